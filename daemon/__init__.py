"""ribao: takes in the schools' daily reports by email, judges them against the bureau's notice,
answers every school and gives bureau staff one digest a day."""
__version__ = "0.1.0"
