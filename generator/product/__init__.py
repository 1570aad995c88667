"""The product template (the Service Catalog product a SageMaker project launches) and the modules that
add its resources, one concern each; `compose.build_product` assembles them. The deploy repository's
seed bundle (seed) is here too: the product creates that repository, and its roles read the bundle.

Imports the base modules and `iam` only: never `companions`, `checks` or `live`.
"""
