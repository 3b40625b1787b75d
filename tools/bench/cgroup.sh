# tools/bench/cgroup.sh: sourced by the device scripts that emulate a smaller machine (run as root).
in_cgroup() {  # in_cgroup NAME LIMIT CMD...: runs CMD in a fresh cgroup with memory.max LIMIT and no swap
  local cg=/sys/fs/cgroup/$1; mkdir -p "$cg"; echo "$2" > "$cg/memory.max"; echo 0 > "$cg/memory.swap.max" 2>/dev/null
  shift 2; (echo $BASHPID > "$cg/cgroup.procs"; exec "$@")
  local rc=$?; echo "   cgroup peak $(( $(cat "$cg/memory.peak" 2>/dev/null || echo 0) / 1048576 )) MiB, rc $rc"
}
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }  # empties the page cache: every read goes to the disk
