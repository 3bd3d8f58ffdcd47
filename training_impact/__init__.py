"""training-impact: did our upskilling and reskilling programs work, and were they worth it?"""

__version__ = "0.1.0"
