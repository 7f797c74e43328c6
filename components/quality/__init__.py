"""Validate stage: Great Expectations checks of the readings frame.

- :mod:`components.quality.config`: ``SensorRule``, ``ValidationConfig`` (cheap to import)
- :mod:`components.quality.suite`: the GX 1.x expectation suite and how it is run
- :mod:`components.quality.validate`: ``validate_readings``, ``SchemaError``,
  ``DataQualityError``, ``ValidationOutcome``

Great Expectations is imported lazily, inside the functions that run it.
"""
