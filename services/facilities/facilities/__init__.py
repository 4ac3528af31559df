"""Facilities (*panti*, *sentra*, LKS): capacity, referrals and planned centres (issue 4)."""
