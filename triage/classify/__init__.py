"""Reading what people said or wrote: normalization, language, category, urgency, entities."""
