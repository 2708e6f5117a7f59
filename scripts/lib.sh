# Shell helpers shared by the scripts in this folder; source it, do not run it.

# free_port: prints a TCP port on 127.0.0.1 that is free right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_url NAME LOG PID: waits up to 30 s for LOG to name the http://127.0.0.1:PORT
# address a server listens on, and prints it. Shows the log and fails if PID exits first
# or the time runs out.
wait_for_url() {
  local name=$1 log=$2 pid=$3 url
  for _ in $(seq 300); do
    # Whole lines only: an unbuffered stderr may hold half the line that names it.
    url=$(head -n "$(wc -l <"$log")" "$log" | grep -o 'http://127\.0\.0\.1:[0-9]*' | head -n 1 || true)
    if [ -n "$url" ]; then
      echo "$url"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start listening:" >&2
  cat "$log" >&2
  return 1
}

# tf_init [DIR] [FLAGS...]: `terraform init` of DIR (default infra), from the provider mirror
# TANDEM_TF_PLUGIN_DIR (default /opt/tf-plugins) when it holds hashicorp/aws, else from the
# registry. Exports CHECKPOINT_DISABLE, so that no later terraform command calls HashiCorp.
tf_init() {
  local dir=${1:-infra}
  [ $# -gt 0 ] && shift
  local mirror=${TANDEM_TF_PLUGIN_DIR:-/opt/tf-plugins}
  export CHECKPOINT_DISABLE=1
  # A CLI configuration that is named but missing only makes every command warn.
  if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
    export TF_CLI_CONFIG_FILE=/dev/null
  fi
  if [ -d "$mirror/registry.terraform.io/hashicorp/aws" ]; then
    echo "terraform init of $dir from the provider mirror $mirror" >&2
    terraform -chdir="$dir" init -input=false -plugin-dir="$mirror" "$@" >&2
  else
    echo "terraform init of $dir from the registry" >&2
    terraform -chdir="$dir" init -input=false "$@" >&2
  fi
}

# tf_output DIR NAME: the value of the output NAME of DIR's state, as text; fails when the
# state has no such output (no deployment yet). (`terraform output -raw` instead prints a
# warning on stdout and succeeds when the state has no outputs at all.)
tf_output() {
  terraform -chdir="$1" output -no-color -json "$2" 2>/dev/null |
    python3 -c 'import json, sys; value = json.load(sys.stdin); print(value if isinstance(value, str) else json.dumps(value))' 2>/dev/null
}
