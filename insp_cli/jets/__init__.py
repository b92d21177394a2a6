from insp_cli.jets.space import JetSpace, jet_space, jet_size, to_taylor, from_taylor
from insp_cli.jets.derivative_network import siren_jet
