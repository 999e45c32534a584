"""Start moto's server with Step Functions execution on and getmoto/moto#10077 worked around.

Written by odin's test harness (pkg/internal/moto), which embeds this file. Delete the
__deepcopy__ override once the image moves past moto 5.2.1 (fixed upstream by PR #10093).
"""
import copy
import logging
import sys

from moto.core.config import default_user_config

# Execution mode must be on before any state machine exists: switching backends later
# drops the machines created before the switch.
default_user_config["stepfunctions"] = {"execute_state_machine": True}
default_user_config["lambda"] = {"use_docker": False}

from moto.stepfunctions.models import StateMachine

# moto 5.2.1 deep-copies the StateMachine on every StartExecution. After one run it holds
# executions whose worker threads own RLocks (cannot be pickled) and a backend that reaches
# every other machine. The clone needs neither: give it an empty executions list and share
# the backend, copy everything else as usual (the same as the upstream fix).
def _state_machine_deepcopy(self, memo):
    cls = self.__class__
    clone = cls.__new__(cls)
    memo[id(self)] = clone
    for key, value in self.__dict__.items():
        if key == "executions":
            setattr(clone, key, [])
        elif key == "backend":
            setattr(clone, key, value)
        else:
            setattr(clone, key, copy.deepcopy(value, memo))
    return clone

StateMachine.__deepcopy__ = _state_machine_deepcopy

# The first import of the ANTLR-based interpreter costs about 1.5 s; pay it before readiness.
import moto.stepfunctions.parser.models  # noqa: E402,F401

# One line per request drowns the errors when the log is dumped after a failure.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    main(sys.argv[1:])
