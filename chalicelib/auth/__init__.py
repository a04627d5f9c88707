"""Who is calling: bearer JWTs (development key locally, Cognito on AWS) and the four shop roles."""

from chalicelib.auth.domain import ROLES, Principal, require_role
from chalicelib.auth.service import mint_dev_token, verify_token

__all__ = ["ROLES", "Principal", "mint_dev_token", "require_role", "verify_token"]
