"""All SQL lives here: one repository per aggregate, used by API services and activities alike."""
