"""mlops-gen: render a multi-account SageMaker project template (a Service Catalog product)."""

__version__ = "0.1.0"
