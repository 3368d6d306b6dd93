package cli

import "testing"

func TestCredentialSubsection(t *testing.T) {
	for name, want := range map[string]string{
		"credential.https://api.torale.ai.helper":            "https://api.torale.ai",
		"credential.https://torale.corp.example:8443.helper": "https://torale.corp.example:8443",
		"credential.helper":                                  "",
		"user.name":                                          "",
	} {
		got, ok := credentialSubsection(name)
		if got != want || ok != (want != "") {
			t.Errorf("credentialSubsection(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}
