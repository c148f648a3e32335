#!/bin/sh
# scripts/check-mix.sh - the `mix` step of make test: the README's Mix
# section, done. A new Mix project (Elixir from Debian's packages) depends
# on this source tree (`{:procket, path: ...}`), is built offline (rebar3
# from MIX_REBAR3, no hex), and run as uid 65534 in a private network
# namespace: `:procket.open(53, protocol: :udp)` through a staged setuid
# helper that config/config.exs names with a binary (as Elixir passes
# strings), `:gen_udp.open(0, fd: fd)`, and a datagram round trip on
# 127.0.0.1:53. Then procket:gen_udp_open/2 from Elixir. Needs root.
# Prints `check-mix: N passed, N failed`.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "check-mix: needs root" >&2; exit 1; }
command -v mix >/dev/null 2>&1 || { echo "check-mix: mix (elixir) is missing" >&2; exit 1; }

T=$(mktemp -d /tmp/procket_mix.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
chmod 755 "$T"

# the sources, as a clean checkout would have them
(cd "$ROOT" && git ls-files -co --exclude-standard |
     grep -v -e '^logs/' -e '^test/' -e '^bench/' | tar cf - -T -) | tar xf - -C "$T" --one-top-level=procket
mkdir -p "$T/hello/config" "$T/hello/lib" "$T/home" "$T/helper"
cat >"$T/hello/mix.exs" <<'EXS'
defmodule Hello.MixProject do
  use Mix.Project

  def project do
    [app: :hello, version: "0.1.0", elixir: "~> 1.14", deps: deps()]
  end

  def application do
    [extra_applications: [:logger]]
  end

  defp deps do
    [{:procket, path: "../procket"}]
  end
end
EXS
cat >"$T/hello/config/config.exs" <<'EXS'
import Config
config :procket, helper: System.get_env("HELLO_HELPER", "unset")
EXS
cat >"$T/hello/lib/hello.ex" <<'EX'
defmodule Hello do
  def run do
    {:ok, fd} = :procket.open(53, protocol: :udp)
    {:ok, s} = :gen_udp.open(0, fd: fd, mode: :binary, active: false)
    :ok = :gen_udp.send(s, {127, 0, 0, 1}, 53, "mix")
    {:ok, {_, 53, "mix"}} = :gen_udp.recv(s, 64, 5000)
    :ok = :gen_udp.close(s)
    :ok = :procket.close(fd)
    {:ok, u} = :procket.gen_udp_open(53, mode: :binary, active: false)
    :ok = :gen_udp.close(u)
    IO.puts("hello: udp 53 as uid #{String.trim(to_string(:os.cmd(~c"id -u")))}")
  end
end
EX

export HOME="$T/home" MIX_HOME="$T/home/.mix" MIX_REBAR3=${MIX_REBAR3:-$(command -v rebar3)}
pass=0 fail=0
if (cd "$T/hello" && mix compile) >"$T/compile.log" 2>&1; then
    pass=$((pass + 1)); echo "ok   mix compile (procket built by rebar3 through mix)"
else
    fail=$((fail + 1)); echo "FAIL mix compile"; tail -n 30 "$T/compile.log"
fi

cp "$T/procket/priv/procket" "$T/helper/procket"
chown root:root "$T/helper/procket"
chmod 4755 "$T/helper/procket"
chmod -R a+rX "$T"
chown -R 65534:65534 "$T/home"
out=$(unshare --net -- sh -c '
    ip link set lo up
    cd "$1/hello" && HELLO_HELPER="$1/helper/procket" \
        setpriv --reuid=65534 --regid=65534 --clear-groups -- \
        mix run --no-compile -e Hello.run
' sh "$T" 2>&1) || true
if [ "$(printf '%s\n' "$out" | tail -n 1)" = "hello: udp 53 as uid 65534" ]; then
    pass=$((pass + 1)); echo "ok   :procket.open(53, protocol: :udp) from Mix as uid 65534"
else
    fail=$((fail + 1)); echo "FAIL :procket.open(53, protocol: :udp) from Mix as uid 65534"
    printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
fi
echo "check-mix: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
