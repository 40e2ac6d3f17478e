"""Forecasting and estimates: demand, lead and transit times, restock and delivery dates.

The core modules (demand, baselines, metrics, leadtime, sentiment, substitutes, replenishment)
work on pandas frames and need no database; history, promise, train and registry connect them
to Larder's tables.
"""
