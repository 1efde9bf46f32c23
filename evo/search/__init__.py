"""The campaign: NSGA-II ask/tell, costs, constraints, screening, evaluation, archive, resume."""

from nasco.evo.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Campaign": "campaign", "CampaignConfig": "config", "ConfigError": "config", "config_from_dict": "config",
    "dump_config": "config", "example_config": "config", "load_config": "config", "Executor": "executors",
    "LocalExecutor": "executors", "RayExecutor": "executors", "register_executor": "executors",
    "EvalJob": "evaluators", "Evaluator": "evaluators", "kind_options": "evaluators", "EvalResult": "evaluators",
    "Candidate": "evaluators",
    "register_evaluator": "evaluators", "TableEvaluator": "table_evaluator", "PythonEvaluator": "evaluators",
    "TrainEvaluator": "train_evaluator", "Objective": "objectives", "objective": "objectives",
    "run_campaign": "api", "CampaignResult": "api", "evaluator_kind": "evaluators", "EvaluatorTraits": "evaluators",
    "Proposal": "strategies", "ProposalInputs": "strategies", "register_proposal": "strategies",
    "register_surrogate_family": "strategies",
})
