import pytest

from so8t.safety import Judge


@pytest.fixture(scope="session")
def judge():
    """The real judge: packaged policy, shipped classifier, the encoder from its installed wheel."""
    return Judge()
