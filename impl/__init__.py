"""gan-spec implementation: build the documented networks, train them, measure the results.

    import impl
    G = impl.build("course-dcgan-g")        # nn.Module, printed as the report printed it
    G, D = impl.build_pair("r000-dcgan")    # an experiment's two networks
"""

from impl.networks.build import SpecNet, build, build_pair, build_spec

__all__ = ["SpecNet", "build", "build_pair", "build_spec"]
