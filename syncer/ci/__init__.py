"""Running inside CI without a receiver: the pull request a job runs for (`platform`), one sticky comment on it
(`comments`), and the job summary (`summary`). Core code: it imports neither `webhook` nor `localserver`."""

from syncer.ci.comments import CommentError, Posted, StickyComment
from syncer.ci.platform import CiEnvironmentError, PullRequest, detect_provider, pull_request_from_env
from syncer.ci.summary import append_step_summary, step_summary_path

__all__ = [
    "CiEnvironmentError",
    "CommentError",
    "Posted",
    "PullRequest",
    "StickyComment",
    "append_step_summary",
    "detect_provider",
    "pull_request_from_env",
    "step_summary_path",
]
