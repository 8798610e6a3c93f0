"""One declaration per option: the API, the magics and the command line list the same ones."""

import inspect

import pytest

import nbopt
from nbopt.cli import build_parser
from nbopt.engine.request import Request, declared
from nbopt.engine.request.option import API, CLI, MAGIC
from nbopt.errors import NbOptUsageError
from nbopt.surface import ENTRIES


def _dests(parser):
    return {a.dest for a in parser._actions if a.option_strings and a.dest != "help"}


def _api_options(name):
    params = inspect.signature(getattr(nbopt, name)).parameters
    leading = [p for p, _, _ in ENTRIES[name].params]
    return [p for p in params if p not in leading]


@pytest.mark.parametrize("name", ["quantize", "prune", "cluster", "debug", "recommend", "sweep"])
def test_the_api_signature_and_docstring_are_the_declared_options(name):
    options = {d.name for d in declared(name, API)}
    assert set(_api_options(name)) == options
    doc = getattr(nbopt, name).__doc__
    for option in options:
        assert f"\n{option} : " in doc, option


def test_magic_help_cli_help_and_api_docstring_list_the_same_options(ip):
    from nbopt.magics.base import PARSERS

    for name in ("quantize", "prune", "cluster"):
        assert _dests(PARSERS[name]) == {d.name for d in declared(name, MAGIC)}
        # compared without whitespace: help wraps lines (and breaks words at hyphens)
        magic_doc = "".join(ip.find_line_magic(name).__doc__.split())
        api_doc = "".join(getattr(nbopt, name).__doc__.split())
        for d in declared(name, MAGIC):
            assert d.option.flag_for(d.name, MAGIC) in magic_doc
            if API in d.option.surfaces:  # the same sentence on both surfaces
                assert "".join(d.option.help.split()) in magic_doc
                assert "".join(d.option.help.split()) in api_doc
    nbopt_parser = ip.find_line_magic("nbopt").parser
    for sub in ("debug", "recommend", "panel"):
        got = _dests(nbopt_parser.subcommands[sub])
        assert got == {d.name for d in declared(sub, MAGIC)}
    compare = build_parser()._subparsers._group_actions[0].choices["compare"]
    cli = {d.name for d in declared("compare", CLI)}
    assert _dests(compare) == cli | {"csv", "unsafe"}
    shared = {d.name for d in declared("quantize", MAGIC)} & cli & set(_api_options("quantize"))
    assert {"scheme", "calib", "eval", "io", "threads", "save", "force"} <= shared


def test_a_request_is_built_from_flat_options_and_refuses_unknown_ones():
    request = Request.build("prune", sparsity=0.8, epochs=3, calib=[1], io="int8")
    assert request.technique == "prune"
    assert request.training.sparsity == 0.8 and request.training.epochs == 3
    assert request.data.calib == [1] and request.conversion.io == "int8"
    assert request.get("epochs") == 3
    changed = request.with_options(epochs=5)
    assert changed.training.epochs == 5 and request.training.epochs == 3  # frozen: a copy
    with pytest.raises(NbOptUsageError, match="unknown option 'epoch'"):
        Request.build(epoch=3)


def test_api_calls_say_which_function_got_a_wrong_argument():
    with pytest.raises(TypeError, match=r"^prune\(\): got an unexpected keyword argument"):
        nbopt.prune(None, sparsity=0.5, schedual="constant")
