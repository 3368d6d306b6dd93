# Homebrew formula for torale-cred (macOS and Linuxbrew).
#
# Homebrew installs formulae only from a tap (a path is refused), so:
#   brew tap-new --no-git "$USER/local"
#   cp packaging/homebrew/torale-cred.rb "$(brew --repository)/Library/Taps/$USER/homebrew-local/Formula/"
#   brew install --HEAD "$USER/local/torale-cred"
#   brew services start torale-cred
#
# Head-only until the first tagged release: then add
#   url "https://github.com/torale-ai/torale-cred/archive/refs/tags/vX.Y.Z.tar.gz"
#   sha256 "<shasum -a 256 of that tarball>"
# above `head`.
#
# A `service do` block cannot declare a socket, so `brew services` runs the
# daemon at login without socket activation, under Homebrew's own label
# (homebrew.mxcl.torale-cred). Use either `brew services` or
# `torale-cred service install` (label ai.torale.cred), not both: two daemons
# would compete for the same socket.
class ToraleCred < Formula
  desc "Keep Torale API keys in the OS keychain, not in plaintext"
  homepage "https://github.com/torale-ai/torale-cred"
  license "MIT"
  head "https://github.com/torale-ai/torale-cred.git", branch: "main"

  depends_on "go" => :build

  def install
    ENV["CGO_ENABLED"] = "0"
    stamp = build.head? ? "HEAD-#{Utils.git_short_head}" : "v#{version}"
    ldflags = "-s -w -X github.com/torale-ai/torale-cred/internal/version.version=#{stamp}"
    system "go", "build", *std_go_args(ldflags:, output: bin/"torale-cred"), "./cmd/torale-cred"
    system "go", "build", *std_go_args(ldflags:, output: bin/"git-credential-torale"), "./cmd/git-credential-torale"
    # Shell completion (cobra's `torale-cred completion SHELL`) and the man
    # pages generated from the same command tree the packages ship.
    generate_completions_from_executable(bin/"torale-cred", "completion")
    system "go", "run", "./internal/tools/genman", "-out", buildpath/"man", "-version", stamp,
           "-date", time.strftime("%Y-%m-%d")
    man1.install Dir[buildpath/"man/*.1"]
    inreplace "packaging/man/git-credential-torale.1", "@VERSION@", stamp
    inreplace "packaging/man/git-credential-torale.1", "@DATE@", time.strftime("%b %Y")
    man1.install "packaging/man/git-credential-torale.1"
  end

  service do
    run [opt_bin/"torale-cred", "daemon"]
    keep_alive successful_exit: false
    process_type :background
    log_path var/"log/torale-cred.log"
    error_log_path var/"log/torale-cred.log"
  end

  def caveats
    <<~EOS
      Start the daemon now and at every login:
        brew services start torale-cred
      Or, for socket activation on Linux (systemd):
        torale-cred service install
      Store a key:
        torale-cred login
    EOS
  end

  test do
    assert_match "torale-cred", shell_output("#{bin}/torale-cred version")
    assert_match "Usage", shell_output("#{bin}/torale-cred --help")
    assert_match "complete", shell_output("#{bin}/torale-cred completion bash")
  end
end
