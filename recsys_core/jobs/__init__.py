"""The app's job layer: the work the pages start, run beside the server.

Holds the job manager (`manager`: one queue and one worker thread per device, progress any
browser session reads, cancel), the jobs themselves (`work`: fetch, build, sweep, training,
each checking who asks and the caps before anything is created), the supervised child
process that trainings, sequential sweeps and builds run in (`child`), viewers, editors and
caps (`access`) and uploaded logs (`uploads`).

May import: every other package of the library (never streamlit, never the CLI). The pages
use it as `from recsys_core import jobs`: this file offers the manager and the jobs by name.
"""

from recsys_core.jobs.access import AccessDenied, Caller, Limits
from recsys_core.jobs.manager import FINAL, Job, JobManager
from recsys_core.jobs.work import (
    JobProgress,
    cancel_job,
    delete_run,
    delete_user_sweep,
    resubmit,
    submit_build,
    submit_fetch,
    submit_sweep,
    submit_training,
    submit_user_sweep,
)

__all__ = [
    "FINAL",
    "AccessDenied",
    "Caller",
    "Job",
    "JobManager",
    "JobProgress",
    "Limits",
    "cancel_job",
    "delete_run",
    "delete_user_sweep",
    "resubmit",
    "submit_build",
    "submit_fetch",
    "submit_sweep",
    "submit_training",
    "submit_user_sweep",
]
