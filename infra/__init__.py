"""AWS CDK infrastructure for TokoFlow: one stack per stage ("dev", "prod"), built from chalicelib.resources.

`python infra/app.py` synthesizes the templates into cdk.out/ (what `make synth` runs); the CDK CLI deploys them
(see the README's "Deploy to AWS"). Nothing here is shipped to Lambda.
"""

from __future__ import annotations

import os
from pathlib import Path

# jsii prints a banner on every start while the machine's Node (20) is past its end of life; it still works.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
