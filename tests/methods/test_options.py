"""Config dataclasses that describe themselves (methods/options.py): kinds, optional values, coercion and the
errors of a bad --config."""
from dataclasses import dataclass, field

import pytest

from fashion_gui.methods import config_from_dict, config_to_dict, get_method, list_methods, option, options


@dataclass
class Example:
    epochs: int = option(3, help="epochs", stage="fit")
    lr: float = option(0.1, help="learning rate")
    weights: str | None = option(None, help="a file", kind="path")
    tasks: tuple[str, ...] = option(("a", "b"), help="tasks")
    steps: tuple[int, ...] = option((1, 2), help="milestones", advanced=True)
    fast: bool = option(False, help="fast")
    mode: str = option("x", help="mode", choices=("x", "y"))
    derived: int = field(default=0)  # not an option


def test_options_read_back_kinds_defaults_and_metadata():
    opts = {o.name: o for o in options(Example)}
    assert list(opts) == ["epochs", "lr", "weights", "tasks", "steps", "fast", "mode"]
    assert [opts[n].kind for n in opts] == ["int", "float", "path", "strs", "ints", "bool", "str"]
    assert opts["weights"].optional and not opts["epochs"].optional
    assert opts["epochs"].stage == "fit" and opts["steps"].advanced and opts["mode"].choices == ("x", "y")
    assert opts["fast"].flag == "--fast" and options(Example, fixed={"mode": "y"})[-1].name == "fast"


def test_config_from_dict_coerces_and_refuses_clearly():
    config = config_from_dict(Example, {"epochs": "5", "weights": None, "steps": "3 4", "fast": "yes"})
    assert (config.epochs, config.weights, config.steps, config.fast) == (5, None, (3, 4), True)
    assert config_to_dict(config)["steps"] == [3, 4]
    with pytest.raises(ValueError, match="unknown option.*colour in run.json; this method takes: epochs"):
        config_from_dict(Example, {"colour": 1}, source="run.json")
    with pytest.raises(ValueError, match="epochs: 2.5 is not a valid int"):
        config_from_dict(Example, {"epochs": 2.5})
    with pytest.raises(ValueError, match="mode: 'z' is not one of x, y"):
        config_from_dict(Example, {"mode": "z"})
    with pytest.raises(ValueError, match="mode cannot be changed for this method"):
        config_from_dict(Example, {"mode": "x"}, fixed={"mode": "y"})
    assert config_from_dict(Example, {"mode": "y"}, fixed={"mode": "y"}).mode == "y"


@pytest.mark.parametrize("name", list_methods())
def test_every_method_round_trips_its_config(name):
    spec = get_method(name)
    config = spec.make_config({})
    values = {o.name: getattr(config, o.name) for o in spec.options()}
    assert spec.make_config(values) == config  # what the Training tab writes to run.json reads back the same
    assert all(o.help for o in spec.options())
