"""Scripts the pipeline's processing jobs run inside their containers (stand-alone files)."""
