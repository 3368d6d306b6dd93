package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/credentials"
	"github.com/torale-ai/torale-cred/credstore/vault"
)

func newStoreCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Choose where a profile's key lives: the keychain, Vault or systemd credentials",
		Long: `A profile's key lives in one store:

  keychain     this machine's keychain (the default)
  vault        a HashiCorp Vault or OpenBao KV version 2 secret, field api_key;
               the daemon holds it in memory only and serves a new version
               within seconds; rotate writes the new key there
  credentials  the file systemd hands the service in $CREDENTIALS_DIRECTORY
               (LoadCredential=), read-only

Vault's own conventions apply: VAULT_ADDR and VAULT_CACERT when --addr and
--ca-cert are not given, and a login by AppRole (--approle-role-id-file and
--approle-secret-id-file), a token file (--token-file, e.g. Vault Agent's
sink), or VAULT_TOKEN, else ~/.vault-token. No token and no key is written to
state.json: only the address, paths and file names. The daemon reads
VAULT_TOKEN from its own environment; for a service, use a token file or
AppRole.

'store set' reads the key once through the new store before recording it,
so a wrong path or a denied one is said at once (--no-verify records it
anyway). Every door (the socket, token, exec, env, git, the local endpoint)
and the audit trail work the same whatever the store.`,
		Example: `  torale-cred store set vault --profile ci --addr https://vault.example:8200 --mount secret --path torale/ci --token-file /run/vault/token
  torale-cred store set vault --profile ci --mount secret --path torale/ci --approle-role-id-file /etc/torale/role-id --approle-secret-id-file /etc/torale/secret-id
  torale-cred store set credentials --profile default
  torale-cred store set keychain --profile ci
  torale-cred store show`,
	}
	cmd.AddCommand(newStoreSetCmd(f), newStoreShowCmd(f))
	return cmd
}

func newStoreSetCmd(f *Factory) *cobra.Command {
	var v vault.Spec
	var credential string
	var noVerify bool
	cmd := &cobra.Command{
		Use:       "set keychain|vault|credentials",
		Short:     "Set where a profile's key lives",
		ValidArgs: []string{credstore.StoreKeychain, credstore.StoreVault, credstore.StoreCredentials},
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf(msgStoreSetArgs)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := credstore.StoreSpec{Kind: args[0]}
			flags := cmd.Flags()
			vaultFlag := false
			for _, n := range []string{"addr", "mount", "path", "field", "ca-cert", "token-file", "approle-role-id-file", "approle-secret-id-file", "approle-mount"} {
				vaultFlag = vaultFlag || flags.Changed(n)
			}
			switch spec.Kind {
			case credstore.StoreVault:
				if v.Addr == "" {
					v.Addr = f.Getenv("VAULT_ADDR")
				}
				for _, p := range []*string{&v.CACert, &v.TokenFile, &v.RoleIDFile, &v.SecretIDFile} {
					if *p != "" {
						abs, err := filepath.Abs(*p)
						if err != nil {
							return err
						}
						*p = abs
					}
				}
				spec.Vault = &v
			case credstore.StoreCredentials:
				if vaultFlag {
					return usageErrorf(msgStoreCredentialsFlags)
				}
				spec.Credential = credential
			case credstore.StoreKeychain:
				if vaultFlag || flags.Changed("credential") {
					return usageErrorf(msgStoreKeychainFlags)
				}
			default:
				return usageErrorf(msgStoreUnknown, shown(spec.Kind))
			}
			if err := credstore.CheckStoreSpec(spec); err != nil {
				if errors.Is(err, credstore.ErrBadRequest) {
					return usageErrorf("%s", strings.TrimPrefix(err.Error(), credstore.ErrBadRequest.Error()+": "))
				}
				return err
			}
			profile, err := f.profile()
			if err != nil {
				return err
			}
			st, err := f.Store()
			if err != nil {
				return err
			}
			// The CLI has no $CREDENTIALS_DIRECTORY of the service's: that
			// store is checked by the service itself.
			check := !noVerify && spec.Kind != credstore.StoreCredentials
			res, err := st.SetStore(cmd.Context(), profile, spec, check, f.Getenv)
			if err != nil {
				return fmt.Errorf(msgNothingChanged, err)
			}
			where := spec.Where()
			switch {
			case res.KeyHint != "" && res.Version > 0:
				f.say(msgStoreReadsVersion, profile, where, res.KeyHint, res.Version)
			case res.KeyHint != "":
				f.say(msgStoreReads, profile, where, res.KeyHint)
			case spec.Kind == credstore.StoreKeychain:
				f.say(msgStoreKeychainEmpty, profile, profile)
			default:
				f.say(msgStoreNotRead, profile, where)
			}
			switch res.Local {
			case credstore.LocalCopyRemoved:
				f.say(msgStoreCopyRemoved, res.LocalHint, where)
			case credstore.LocalCopyShelved:
				f.say(msgStoreCopyShelved, res.LocalHint, profile)
			case credstore.LocalCopyUnchecked:
				f.warn(msgStoreCopyUnchecked, profile, res.LocalErr, where)
			case credstore.LocalCopyLeft:
				f.warn(msgStoreCopyLeft, profile, res.LocalErr, where)
			}
			if spec.Kind == credstore.StoreVault && v.TokenFile == "" && v.RoleIDFile == "" && f.Getenv("VAULT_TOKEN") != "" {
				f.warn(msgStoreVaultToken)
			}
			if spec.Kind == credstore.StoreCredentials {
				f.say(msgStoreCredentials, shown(spec.CredentialName()))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&v.Addr, "addr", "", "Vault's address (default: VAULT_ADDR)")
	fl.StringVar(&v.Mount, "mount", "secret", "the KV version 2 engine's mount")
	fl.StringVar(&v.Path, "path", "", "the secret's path in the mount (e.g. torale/PROFILE)")
	fl.StringVar(&v.Field, "field", "", "the secret's field holding the key (default api_key)")
	fl.StringVar(&v.CACert, "ca-cert", "", "PEM file of the CA that signed Vault's certificate (default: VAULT_CACERT)")
	fl.StringVar(&v.TokenFile, "token-file", "", "file holding a Vault token, read afresh at each login (Vault Agent's sink)")
	fl.StringVar(&v.RoleIDFile, "approle-role-id-file", "", "file holding the AppRole role-id")
	fl.StringVar(&v.SecretIDFile, "approle-secret-id-file", "", "file holding the AppRole secret-id")
	fl.StringVar(&v.AppRoleMount, "approle-mount", "", "the AppRole auth method's mount (default approle)")
	fl.StringVar(&credential, "credential", "", "the credential's name in $CREDENTIALS_DIRECTORY (default "+credentials.DefaultName+")")
	fl.BoolVar(&noVerify, "no-verify", false, "record the store without reading the key through it now")
	return cmd
}

func newStoreShowCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show where each profile's key lives",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := f.Store()
			if err != nil {
				return err
			}
			state, err := st.StateFile.Load()
			if err != nil {
				return err
			}
			type row struct {
				Profile string              `json:"profile"`
				Store   credstore.StoreSpec `json:"store"`
			}
			rows := []row{}
			seen := map[string]bool{}
			for _, n := range state.Names() {
				rows = append(rows, row{n, st.StoreOf(n)})
				seen[n] = true
			}
			for n, spec := range state.Stores {
				if !seen[n] {
					rows = append(rows, row{n, spec})
				}
			}
			if asJSON {
				return writeJSON(f.IO.Out, rows)
			}
			w := humanWriter{f.IO.Out}
			for _, r := range rows {
				fmt.Fprintf(w, "%s: %s\n", r.Profile, r.Store.Where())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
