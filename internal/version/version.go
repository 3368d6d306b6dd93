// Package version says which build this is: stamped by the Makefile with
// -ldflags -X, else read from the module's build info.
package version

import (
	"runtime"
	"runtime/debug"
)

// version is set at link time: -X github.com/torale-ai/torale-cred/internal/version.version=v1.2.3
var version string

// String is the version, "(devel)" when neither stamp nor build info knows.
func String() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// Info is the version with the toolchain and platform, for `version`.
type Info struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
	Commit   string `json:"commit,omitempty"`
}

// Get collects Info.
func Get() Info {
	i := Info{Version: String(), Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				i.Commit = s.Value
			}
		}
	}
	return i
}
