package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/torale-ai/torale-cred/internal/toraleapi"
)

// verifyKey asks GET /auth/me who the key belongs to.
func verifyKey(ctx context.Context, apiURL, key string) (string, error) {
	u, err := toraleapi.New(apiURL, key).Me(ctx)
	if errors.Is(err, toraleapi.ErrUnauthorized) {
		return "", fmt.Errorf(msgKeyRefused, apiURL, dashboardKeysFor(apiURL))
	}
	if err != nil {
		return "", err
	}
	if u.Email == "" {
		return u.ID, nil
	}
	return u.Email, nil
}
