"""gan-spec implementation: build the documented networks, train them, measure the results.

    import impl
    G = impl.build("course-dcgan-g")        # nn.Module, printed as the report printed it
    G, D = impl.build_pair("r000-dcgan")    # an experiment's two networks
"""

from importlib import metadata

from impl.core.startup import guard

guard()  # before torch and spec load: Ctrl-C is one line, the cwd cannot shadow spec/ (impl/core/startup.py)

from impl.networks.build import SpecNet, build, build_pair, build_spec  # noqa: E402

try:
    __version__ = metadata.version("gan-spec")  # one home: pyproject.toml
except metadata.PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "unknown"

__all__ = ["SpecNet", "__version__", "build", "build_pair", "build_spec"]
