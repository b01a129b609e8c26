"""Long trials: the trial being evaluated (``current_trial()``), its saved
state and folder beside the checkpoint, and its intermediate values."""

from .context import Trial, TrialPruned, TrialTicket, current_trial

__all__ = ["Trial", "TrialPruned", "TrialTicket", "current_trial"]
