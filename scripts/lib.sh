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
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n 1 || true)
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
