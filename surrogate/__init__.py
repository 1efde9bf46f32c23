"""Accuracy predictors over numeric features, model selection, screening and transfer (DESIGN.md §6).

Only the package boundary exists so far; its contents arrive with the surrogate issue.
"""
