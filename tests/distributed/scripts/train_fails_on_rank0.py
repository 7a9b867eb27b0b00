"""Run under mpiexec -n 2 with a checkpoint path: `train --distributed` in which rank 0 alone
fails to write its checkpoint after epoch 1. Rank 1 must be stopped too, not left waiting."""
import sys

import minicnn.cli.train as train
from minicnn.__main__ import main
from minicnn.cli.arguments import CLIError


def cannot_write(*args, **kwargs):
    raise CLIError("cannot write the checkpoint (on purpose)")


assert callable(train.save_checkpoint), "train.py no longer saves through save_checkpoint"
train.save_checkpoint = cannot_write
sys.exit(main(["train", "--distributed", "--limit", "64", "--test-limit", "50", "--epochs", "3",
               "--threads", "1", "--checkpoint", sys.argv[1]]))
