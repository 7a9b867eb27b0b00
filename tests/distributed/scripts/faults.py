"""Run under mpiexec -n 2 with one argument: "raise" (rank 1 raises while rank 0 waits in a
collective), "timeout" (rank 1 comes to the collective too late) or "kill" (rank 1 is killed).
Every rank must stop, with an error naming the rank; none may hang."""
import datetime
import os
import signal
import sys
import time

import minicnn
import minicnn.distributed as dist

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=1))
rank, what = dist.get_rank(), sys.argv[1]
if rank == 1:
    if what == "raise":
        raise ValueError("a failure on purpose")
    if what == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(4)
dist.all_reduce(minicnn.ones(3))
print(f"rank {rank} got through", flush=True)
