# Sourced by scripts/test and scripts/serve: build Garage once into the cache (picops runs it
# as its embedded store), and run a single-node cluster for the --upstream test run.
GARAGE_VERSION=2.5.0
GARAGE_ROOT="$CACHE/garage"
GARAGE_BIN="$GARAGE_ROOT/bin/garage"

install_garage() {
  if [ -x "$GARAGE_BIN" ] && "$GARAGE_BIN" --version 2>/dev/null | grep -q "$GARAGE_VERSION"; then
    return 0
  fi
  log "building Garage $GARAGE_VERSION from crates.io (once; ~12 min on 2 cores)"
  local t0=$SECONDS
  cargo install garage --version "$GARAGE_VERSION" --locked --root "$GARAGE_ROOT" >&2
  log "Garage built in $((SECONDS - t0)) s"
}

# start_garage <dir>: exports PICOPS_E2E_UPSTREAM / _ACCESS_KEY / _SECRET_KEY / _REGION.
start_garage() {
  local dir="$1" s3_port rpc_port
  mkdir -p "$dir"
  s3_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rpc_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"
TOML
  local g=("$GARAGE_BIN" -c "$dir/garage.toml")
  "${g[@]}" server > "$dir/garage.log" 2>&1 &
  GARAGE_PID=$!
  for _ in $(seq 1 100); do
    "${g[@]}" status >/dev/null 2>&1 && break
    sleep 0.2
  done
  local node
  node=$("${g[@]}" node id -q 2>/dev/null | cut -d@ -f1)
  "${g[@]}" layout assign -z dc1 -c 1G "$node" >/dev/null
  "${g[@]}" layout apply --version 1 >/dev/null
  local key_out
  key_out=$("${g[@]}" key create picops-e2e)
  "${g[@]}" key allow --create-bucket picops-e2e >/dev/null
  export PICOPS_E2E_UPSTREAM="http://127.0.0.1:$s3_port"
  export PICOPS_E2E_REGION=garage
  PICOPS_E2E_ACCESS_KEY=$(echo "$key_out" | awk '/Key ID/ {print $NF}')
  PICOPS_E2E_SECRET_KEY=$(echo "$key_out" | awk '/Secret key/ {print $NF}')
  export PICOPS_E2E_ACCESS_KEY PICOPS_E2E_SECRET_KEY
  # A key Garage knows but that may use no bucket: proves picops signs as the caller when
  # told to (the upstream's own policy then refuses it).
  key_out=$("${g[@]}" key create picops-e2e-outsider)
  PICOPS_E2E_OUTSIDER_KEY=$(echo "$key_out" | awk '/Key ID/ {print $NF}')
  PICOPS_E2E_OUTSIDER_SECRET=$(echo "$key_out" | awk '/Secret key/ {print $NF}')
  export PICOPS_E2E_OUTSIDER_KEY PICOPS_E2E_OUTSIDER_SECRET
  log "Garage $("$GARAGE_BIN" --version | head -1) listening on $PICOPS_E2E_UPSTREAM"
}

stop_garage() { [ -n "${GARAGE_PID:-}" ] && kill "$GARAGE_PID" 2>/dev/null && wait "$GARAGE_PID" 2>/dev/null || true; }
