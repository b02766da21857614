"""Every method of the app, registered in one place (DESIGN.md, "Methods: one way in").

Importing this package registers the entries, in the order the settings pane and ``fashion train`` list
them (and the order in which the engine prefers a method when several serve one request kind).
"""
# registration, in this order (isort: skip)
from fashion_gui.methods import adde  # noqa: F401, I001
from fashion_gui.methods import grl  # noqa: F401, I001
from fashion_gui.methods import uigr  # noqa: F401, I001
from fashion_gui.methods import outfit  # noqa: F401, I001
from fashion_gui.methods import cooperative  # noqa: F401, I001
from fashion_gui.methods import asen  # noqa: F401, I001
from fashion_gui.methods.options import Option, config_from_dict, config_to_dict, option, options
from fashion_gui.methods.registry import (
    QUERYLESS_KINDS,
    REQUEST_KINDS,
    EvalReport,
    EvalRequest,
    MethodSpec,
    Stage,
    get_method,
    list_methods,
    load_ref,
    methods_serving,
    register_method,
)

__all__ = ["QUERYLESS_KINDS", "REQUEST_KINDS", "EvalReport", "EvalRequest", "MethodSpec", "Option", "Stage", "config_from_dict",
           "config_to_dict", "get_method", "list_methods", "load_ref", "methods_serving", "option", "options",
           "register_method"]
