package ipc

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/gitcred"
	"github.com/torale-ai/torale-cred/internal/wire"
)

// git is POST /v1/git: one git credential "get" answered here by the git
// helper's own rule (internal/gitcred's parser and Helper.Get) over this
// server's Backend, with the caller's --profile and environment, so that
// the lean git-credential-torale needs no copy of that rule. The answer is
// what the helper prints for git; "" when it has nothing to say.
func (s *Server) git(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		s.bodyError(w, err)
		return
	}
	var req wire.GitRequest
	err = decodeStrict(body, &req)
	clear(body)
	if err == nil && req.Operation != "get" {
		err = fmt.Errorf("%w: \"operation\" must be get (store and erase go through PUT and DELETE /v1/credentials)", credstore.ErrBadRequest)
	}
	var c gitcred.Credential
	if err == nil {
		c, err = gitcred.Parse(strings.NewReader(req.Input))
		if err != nil {
			err = fmt.Errorf("%w: %w", credstore.ErrBadRequest, err)
		}
	}
	var profile string
	if err == nil {
		profile, err = credstore.ProfileOf(req.Profile, req.Env)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	ctx := handOutContext(w, r)
	h := &gitcred.Helper{Keys: s.b, Profile: profile, Chosen: req.Profile != "" || req.Env.Profile != "", Env: req.Env}
	if credstore.DoorFrom(ctx) == credstore.DoorSocket {
		h.Door = credstore.DoorSocket // not one of torale-cred's own programs
	}
	answer, ok, err := h.Get(ctx, c)
	if err != nil {
		s.fail(w, err)
		return
	}
	var out bytes.Buffer
	if ok {
		if err := answer.Encode(&out); err != nil {
			s.fail(w, fmt.Errorf("the key cannot be passed to git: %w", err))
			return
		}
	}
	writeJSON(w, http.StatusOK, wire.GitAnswer{Output: out.String()})
}
