"""The command-line commands of python -m minicnn, one module each."""
