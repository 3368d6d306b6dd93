package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"

	"github.com/torale-ai/torale-cred/internal/toraleapi/fakeapi"
	"github.com/torale-ai/torale-cred/internal/vaulttest"
)

// rotate with a Vault profile, as a user runs it (no daemon): a read-only
// login is refused before any key is created; a writer's rotation writes
// the new key as the secret's next version, then revokes the old key. No
// key reaches the keychain or local disk.
func TestRotateVault(t *testing.T) {
	v := vaulttest.Start(t)
	v.Policy(t, "read", `path "secret/data/torale/*" { capabilities = ["read"] }`)
	v.Policy(t, "write", `path "secret/data/torale/*" { capabilities = ["read", "create", "update"] }`)
	api := fakeapi.New(t, fakeapi.Documented)
	old, _ := api.AddKey("CLI Key", created)
	v.Put(t, "secret", "torale/default", map[string]any{"api_key": old})

	home := t.TempDir()
	env := map[string]string{
		"HOME":                  home,
		"TORALE_CRED_STATE_DIR": filepath.Join(home, "state"),
		"TORALE_CONFIG":         filepath.Join(home, ".torale", "config.json"),
		"TORALE_CRED_SOCKET":    filepath.Join(home, "cred.sock"),
		"TORALE_CRED_NO_DAEMON": "1",
		// No keychain at all: a Vault profile must not need one.
		"DBUS_SESSION_BUS_ADDRESS":     "unix:path=" + filepath.Join(home, "no-bus"),
		"TORALE_CRED_KEYCHAIN_SERVICE": "torale-vault-test",
		"TORALE_API_URL":               api.URL,
		"VAULT_ADDR":                   v.Addr,
		"VAULT_TOKEN":                  v.Token(t, &vault.TokenCreateRequest{Policies: []string{"read"}}),
	}
	run := func(args ...string) (int, string) {
		ios, _, errOut := Test("")
		code := Run(context.Background(), args, ios, func(k string) string { return env[k] })
		return code, errOut.String()
	}
	if code, out := run("store", "set", "vault", "--path", "torale/default"); code != 0 || !strings.Contains(out, "version 1") {
		t.Fatalf("store set vault: exit %d\n%s", code, out)
	}

	code, out := run("rotate")
	if code != 1 || !strings.Contains(out, "may only read") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("rotate with a read-only login: exit %d\n%s", code, out)
	}
	if n := len(api.Keys()); n != 1 {
		t.Fatalf("a refused rotation left %d keys on the server", n)
	}

	env["VAULT_TOKEN"] = v.Token(t, &vault.TokenCreateRequest{Policies: []string{"write"}})
	code, out = run("rotate")
	if code != 0 || !strings.Contains(out, "stored the new key in vault secret/torale/default") {
		t.Fatalf("rotate with a writer's login: exit %d\n%s", code, out)
	}
	sec, err := v.Root.KVv2("secret").Get(context.Background(), "torale/default")
	if err != nil {
		t.Fatal(err)
	}
	newKey, _ := sec.Data["api_key"].(string)
	if sec.VersionMetadata.Version != 2 || newKey == old || !api.Active(newKey) || api.Active(old) {
		t.Fatalf("after rotate: Vault version %d, new active %v, old active %v", sec.VersionMetadata.Version, api.Active(newKey), api.Active(old))
	}
	noKeys(t, out, old, newKey)
	vaulttest.NoKeyOnDisk(t, []string{old, newKey}, home)
}
