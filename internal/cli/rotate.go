package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
)

// newRotateCmd is a placeholder until its issue is built.
func newRotateCmd(*Factory) *cobra.Command { return notYet("rotate", "Rotate the key") }

// rotationPeriod is how long a key lives before it is due.
func (f *Factory) rotationPeriod() time.Duration { return credstore.DefaultRotationPeriod }

// warnIfRotationDue prints a one-line rotation hint on stderr when the
// resolved key is the stored one and it is due (token, exec). Stdout is
// never touched.
func (f *Factory) warnIfRotationDue(r credstore.Resolution) { _ = r }
