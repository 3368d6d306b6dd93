package keychain

import "github.com/zalando/go-keyring"

func keyringErrNotFound() error { return keyring.ErrNotFound }
