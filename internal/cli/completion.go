package cli

import (
	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/paths"
)

// profileNames completes a profile name from state.json's metadata (read
// locally: no daemon is dialled and no keychain is opened for a TAB).
func profileNames(f *Factory) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		names := []cobra.Completion{credstore.DefaultProfile}
		if dir, err := paths.StateDir(f.Getenv); err == nil {
			if st, err := (credstore.StateFile{Dir: dir}).Load(); err == nil {
				for _, n := range st.Names() {
					if n != credstore.DefaultProfile {
						names = append(names, n)
					}
				}
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// fixed completes one of words and never a file name.
func fixed(words ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp)
}

// registerCompletions wires completion into the tree: --profile and every
// PROFILE argument complete profile names, env --shell its shells, policy
// set its modes (then executables as files), scan's PATHs files and
// directories, and nothing where nothing is taken.
func registerCompletions(root *cobra.Command, f *Factory) {
	_ = root.RegisterFlagCompletionFunc("profile", profileNames(f))
	for _, c := range root.Commands() {
		switch c.Name() {
		case "env":
			_ = c.RegisterFlagCompletionFunc("shell", fixed(shellSh, shellFish, shellPowerShell))
		case "scan":
			// PATH...: directories and files, as a shell completes them;
			// the numbers take no file name.
			c.ValidArgsFunction = func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return nil, cobra.ShellCompDirectiveDefault
			}
			_ = c.RegisterFlagCompletionFunc("max-depth", cobra.NoFileCompletions)
			_ = c.RegisterFlagCompletionFunc("max-size", cobra.NoFileCompletions)
		case "restore":
			c.ValidArgsFunction = cobra.NoFileCompletions
		case "policy":
			for _, sub := range c.Commands() {
				if sub.Name() != "set" {
					continue
				}
				names := profileNames(f)
				sub.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
					switch len(args) {
					case 0:
						return names(cmd, args, toComplete)
					case 1:
						return fixed(credstore.PolicyAllow, credstore.PolicyConfirm, credstore.PolicyOpen)(cmd, args, toComplete)
					}
					if args[1] == credstore.PolicyOpen {
						return nil, cobra.ShellCompDirectiveNoFileComp
					}
					return nil, cobra.ShellCompDirectiveDefault // executables, by path
				}
			}
		}
	}
}
