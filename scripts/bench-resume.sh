#!/usr/bin/env bash
# Resume benchmark: runs the resume tests of tests/it/resume.rs N times and
# prints what each measured (issue 14, part 2). Each kills an upload with
# SIGKILL at about 60% and runs it again:
#   local  1 GiB to a local folder: the least size of its temporary file
#          during the next run (from zero it would pass through every size)
#   s3     1 GiB to moto through a relay that counts the bytes it carries:
#          what the next run sent, and what was sent twice in all
#   sftp   256 MiB to sshd: as local, on the server's temporary file
# The target: at most a tenth of the file sent again.
#
#   scripts/bench-resume.sh             one run of each
#   scripts/bench-resume.sh --runs N    N runs of each
#
# Needs what scripts/test.sh installs (moto, sshd); builds the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=1
[ "${1:-}" = "--runs" ] && RUNS=$2

for i in $(seq "$RUNS"); do
    echo "run $i of $RUNS"
    cargo test --quiet --test it resume:: -- --nocapture --test-threads 1 2>&1 |
        grep -E "resume: |test result|FAILED|panicked" | sed "s/^\.*//" || true
done
