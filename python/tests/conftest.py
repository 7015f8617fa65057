import os
import sys

# Import the package from this checkout, installed or not.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
