"""The documented networks: built from their specs (build), printed as the reports printed them (printout), and
measured as torchsummary tables beside the reports' numbers (tables)."""
