package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/ipc"
)

// Reliability finding 9: PUTs racing config.json migrations of the same
// profile never report the keychain unavailable (one writer at a time) and
// never log an outage; each PUT's key is what it stored or what a later
// writer stored.
func TestPutRacingMigrationIsNoOutage(t *testing.T) {
	t.Parallel()
	p := startInProcess(t, `{}`)
	c := ipc.NewClient(p.sock, 0)
	defer c.Close()
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 150 {
			writeFile(t, p.cfg, fmt.Sprintf(`{"api_key":"sk_MIGRATEmigrate%020d"}`, i))
		}
	}()
	for i := range 150 {
		_, err := c.Put(ctx, "default", fmt.Sprintf("sk_PUTputPUTputPUTputPUT%013d", i), credstore.PutOptions{})
		if errors.Is(err, storeerr.ErrKeychain) {
			t.Fatalf("PUT %d racing a migration: %v", i, err)
		}
		if err != nil && !strings.Contains(err.Error(), "another program changed") {
			t.Fatalf("PUT %d: %v", i, err)
		}
	}
	<-done
	if strings.Contains(p.log.String(), "keychain unavailable") {
		t.Fatalf("a race was logged as an outage:\n%s", p.log.String())
	}
}

// The automatic move says when it replaces a different stored key, as
// login, import and rotate do.
func TestMoveSaysWhatItReplaced(t *testing.T) {
	t.Parallel()
	p := startInProcess(t, `{"api_key":"sk_FIRSTfirstFIRSTfirstFIRSTfirst11111"}`)
	within(t, "the first key moved", func() error {
		if b, _ := os.ReadFile(p.cfg); strings.Contains(string(b), "api_key") {
			return fmt.Errorf("config.json still %s", b)
		}
		return nil
	})
	writeFile(t, p.cfg, `{"api_key":"sk_SECONDsecondSECONDsecondSECOND22222"}`)
	within(t, "the replacement said", func() error {
		if !strings.Contains(p.log.String(), "sk_...22222 from config.json replaced sk_...11111") {
			return fmt.Errorf("log:\n%s", p.log.String())
		}
		return nil
	})
	if strings.Contains(p.log.String(), "FIRSTfirst") || strings.Contains(p.log.String(), "SECONDsecond") {
		t.Fatal("a key reached the log")
	}
}
