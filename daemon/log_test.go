package daemon

import "testing"

func TestJournalFieldNames(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"err": "ERR", "peer_uid": "PEER_UID", "a.b-c": "A_B_C", "_x": "F_X", "1a": "F1A", "message": "F_MESSAGE", "": "F"} {
		if got := fieldName(in); got != want {
			t.Errorf("fieldName(%q) = %q, want %q", in, got, want)
		}
	}
}
