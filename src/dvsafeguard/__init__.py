"""dvsafeguard — domestic-abuse safeguarding procedures as versioned, cited, testable rule packs.

Data flow: facts (``Case``) → pack (``load_pack``) → engine → decision (``evaluate``) → report.
"""

from .decision import LIBRARY_VERSION as __version__
from .decision import Decision
from .errors import DvsafeguardError, EngineError, InputError, PackNotFound, Problem
from .evaluate import evaluate, evaluate_many, load_case
from .facts import Case
from .pack import Pack, available, load_pack
from .session import AssessmentSession

__all__ = [
    "AssessmentSession",
    "Case",
    "Decision",
    "DvsafeguardError",
    "EngineError",
    "InputError",
    "Pack",
    "PackNotFound",
    "Problem",
    "__version__",
    "available",
    "evaluate",
    "evaluate_many",
    "load_case",
    "load_pack",
]
