"""``python -m wave_network ...`` runs the ``wave-network`` command line (useful where the console script is not on
the PATH, for example with the package on ``PYTHONPATH`` instead of installed)."""

from .cli import app

if __name__ == "__main__":
    app(prog_name="wave-network")
