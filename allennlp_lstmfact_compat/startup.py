"""
Imported by `lstmfact_compat.pth` at the start of every Python process of the virtual
environment: puts the compatibility patches in effect without importing torch or allennlp.
"""
from allennlp_lstmfact_compat import apply_all

apply_all()
