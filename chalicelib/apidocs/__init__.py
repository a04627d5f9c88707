"""The API's published contract: the OpenAPI 3.1 document and its docs page, built from the route table."""
