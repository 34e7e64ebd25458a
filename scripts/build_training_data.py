"""Build the category model's training and held-out data in triage/classify/data/.

Run from the repository root, with the shared corpus beside it:

    .venv/bin/python scripts/build_training_data.py [--corpus ../shared/corpus]

Two sources go into each file: sentences of public intent data sets whose intents map
cleanly onto a Monshi category (CLINC150, SNIPS, MASSIVE en-US and fa-IR; the mapping is
INTENT_MAP below and in DATA.md), and a seeded template generator for everything no
corpus covers (voicemail transcripts, SMS, formal and informal email, Persian registers,
mixed Persian/English and Finglish). The held-out files use a different seed, templates
that the training files never see, and the corpora's own test splits, so that the
evaluation measures generality rather than memory. Output is deterministic.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "triage" / "classify" / "data"
TRAIN_SEED = 20261127
HELDOUT_SEED = 7771
TRAIN_PER_CATEGORY = 260
HELDOUT_PER_CATEGORY = 65  # 20% of train + held-out, as issue 5 asks
CORPUS_TRAIN_CAP = 60  # per category and language, so generated registers dominate
CORPUS_HELDOUT_CAP = 12
# One template in HELDOUT_EVERY is reserved for the held-out files.
HELDOUT_EVERY = 5

CATEGORIES = (
    "scheduling",
    "travel",
    "accounting",
    "documents",
    "social_media",
    "sales",
    "support",
    "message",
    "spam",
)

# Intents mapped onto categories; only the clean ones (see DATA.md for what was left out).
CLINC = {
    "scheduling": [
        "meeting_schedule",
        "schedule_meeting",
        "calendar_update",
        "restaurant_reservation",
        "cancel_reservation",
        "confirm_reservation",
    ],
    "travel": [
        "book_flight",
        "book_hotel",
        "car_rental",
        "flight_status",
        "lost_luggage",
        "international_visa",
        "travel_notification",
        "carry_on",
    ],
    "accounting": [
        "bill_due",
        "pay_bill",
        "bill_balance",
        "taxes",
        "w2",
        "min_payment",
        "transactions",
        "payday",
    ],
    "support": ["order_status", "damaged_card", "card_declined", "report_fraud", "account_blocked"],
}
SNIPS = {"scheduling": ["BookRestaurant"]}
MASSIVE = {  # the same intents for en-US and fa-IR
    "scheduling": ["calendar_set", "calendar_remove", "calendar_query"],
    "travel": ["transport_ticket", "transport_query"],
    "social_media": ["social_post"],
}
# MASSIVE's calendar intents also hold alarms and reminders ("remind me to buy milk"),
# which are not secretarial scheduling: keep only sentences about meetings and appointments.
MASSIVE_FILTER = {
    "scheduling": re.compile(
        r"meeting|appointment|calendar|schedule|جلسه|قرار|نوبت|ملاقات|تقویم|برنامه"
    ),
    "travel": re.compile(r"ticket|flight|train|bus|book|بلیط|بلیت|پرواز|قطار|اتوبوس|هواپیما|سفر"),
    "social_media": re.compile(
        r"facebook|twitter|tweet|instagram|social|post|فیسبوک|توییتر|تویتر|توئیتر|اینستاگرام|"
        r"رسانه|شبکه|پست|توییت"
    ),
}

# ----------------------------------------------------------------------------- fillers

EN_FILL: dict[str, list[str]] = {
    "name": [
        "Sarah",
        "Mike Johnson",
        "David",
        "Emily Carter",
        "Tom",
        "Lisa Wong",
        "Raj Patel",
        "Maria Gonzalez",
        "James",
        "Anna Kowalski",
        "Chris",
        "Dr. Miller",
        "Kevin O'Brien",
        "Nadia",
        "Paul Schmidt",
        "Hannah Lee",
        "Omar",
        "Jessica",
        "Ben Carter",
        "Laura",
    ],
    "boss": [
        "Mr. Thompson",
        "Dr. Reed",
        "Ms. Alvarez",
        "the director",
        "Jonathan",
        "Mrs. Kim",
        "your boss",
        "Mr. Hashemi",
        "Dr. Patel",
        "the manager",
    ],
    "day": [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "tomorrow",
        "next week",
        "this afternoon",
        "Saturday morning",
        "the 14th",
        "March 3rd",
        "next Tuesday",
    ],
    "time": [
        "9 am",
        "10:30",
        "2pm",
        "3:15 pm",
        "noon",
        "4 o'clock",
        "11 in the morning",
        "half past five",
        "8:45",
        "1pm",
    ],
    "city": [
        "Chicago",
        "London",
        "Dubai",
        "Toronto",
        "Istanbul",
        "Paris",
        "New York",
        "Denver",
        "Frankfurt",
        "Seattle",
        "Tehran",
        "Boston",
        "Madrid",
    ],
    "amount": [
        "$250",
        "$1,200",
        "$89.99",
        "$3,450",
        "450 dollars",
        "$75",
        "$12,000",
        "$640",
        "two thousand dollars",
        "$1,980.50",
    ],
    "ref": [
        "#4471",
        "INV-2024-0193",
        "number 88213",
        "#A-1029",
        "INV 5530",
        "no. 3312",
        "#90017",
        "PO-7781",
    ],
    "doc": [
        "the contract",
        "the lease agreement",
        "my tax forms",
        "the signed NDA",
        "the passport copy",
        "the insurance certificate",
        "the power of attorney",
        "the birth certificate",
        "the minutes from the board meeting",
        "the W-9",
        "the proposal PDF",
        "the medical records",
        "the employment letter",
    ],
    "platform": [
        "Instagram",
        "Facebook",
        "LinkedIn",
        "Twitter",
        "TikTok",
        "our Facebook page",
        "the Instagram account",
        "YouTube",
        "X",
        "Pinterest",
    ],
    "product": [
        "the standing desk",
        "the printer",
        "the laptop",
        "my order",
        "the coffee machine",
        "the software license",
        "the subscription",
        "the headphones",
        "the chairs",
        "the router",
    ],
    "company": [
        "Bright Dental",
        "Northwind",
        "Acme Corp",
        "Blue Harbor Realty",
        "Greenleaf Cafe",
        "Summit Law",
        "Pixel Studio",
        "Parsian Trading",
        "Oakwood Clinic",
        "Delta Logistics",
    ],
    "service": [
        "bookkeeping",
        "website design",
        "catering",
        "office cleaning",
        "consulting",
        "translation",
        "IT support",
        "marketing",
        "photography",
        "legal advice",
    ],
    "phone": ["555-0134", "(415) 555-0199", "+1 312 555 0108", "555 0172", "646-555-0147"],
}

FA_FILL: dict[str, list[str]] = {
    "name": [
        "رضایی",
        "احمدی",
        "محمدی",
        "کریمی",
        "حسینی",
        "سارا",
        "مریم",
        "علی",
        "رضا",
        "نگار",
        "جعفری",
        "کاظمی",
        "مهندس صالحی",
        "دکتر نوری",
        "فاطمه",
        "امیر",
        "شیرازی",
        "نیلوفر",
        "حمید",
        "زهرا",
    ],
    "boss": [
        "آقای دکتر",
        "مهندس",
        "خانم دکتر",
        "آقای مدیر",
        "مدیرعامل",
        "آقای رحیمی",
        "خانم صدری",
        "دکتر جان",
        "رئیس",
        "آقای توکلی",
    ],
    "day": [
        "شنبه",
        "یکشنبه",
        "دوشنبه",
        "سه‌شنبه",
        "چهارشنبه",
        "پنجشنبه",
        "فردا",
        "پس‌فردا",
        "هفته بعد",
        "امروز عصر",
        "۱۵ اسفند",
        "سه‌شنبه آینده",
        "آخر هفته",
    ],
    "time": [
        "ساعت ۱۰ صبح",
        "ساعت ۴ بعدازظهر",
        "ساعت ۹",
        "ساعت 11",
        "ظهر",
        "ساعت ۵ عصر",
        "ساعت دو و نیم",
        "اول وقت",
        "ساعت ۸ و ربع",
        "ساعت 3",
    ],
    "city": [
        "مشهد",
        "شیراز",
        "اصفهان",
        "تبریز",
        "کیش",
        "استانبول",
        "دبی",
        "تهران",
        "یزد",
        "رشت",
        "ایروان",
        "کرمان",
        "قشم",
    ],
    "amount": [
        "۲ میلیون تومان",
        "۵۰۰ هزار تومان",
        "۱۲ میلیون",
        "۳۵۰ تومن",
        "۸۰۰ دلار",
        "۱٫۵ میلیون تومان",
        "20 میلیون ریال",
        "یک میلیون و دویست",
        "۴۵ میلیون تومان",
        "۷۵۰ هزار تومن",
    ],
    "ref": ["۴۴۷۱", "۱۴۰۳-۰۱۹۳", "۸۸۲۱۳", "۱۰۲۹", "۵۵۳۰", "3312", "۹۰۰۱۷", "۷۷۸۱"],
    "doc": [
        "قرارداد",
        "اجاره‌نامه",
        "کپی شناسنامه",
        "اسکن کارت ملی",
        "سند ملک",
        "وکالت‌نامه",
        "صورتجلسه",
        "گواهی اشتغال به کار",
        "مدارک بیمه",
        "پاسپورت",
        "نامه اداری",
        "پرونده پزشکی",
        "مدارک تحصیلی",
    ],
    "platform": [
        "اینستاگرام",
        "پیج اینستا",
        "تلگرام",
        "کانال تلگرام",
        "لینکدین",
        "توییتر",
        "پیج",
        "Instagram",
        "آپارات",
        "واتساپ بیزینس",
    ],
    "product": [
        "سفارشم",
        "دستگاه",
        "پرینتر",
        "لپ‌تاپ",
        "یخچال",
        "بسته",
        "کالا",
        "گوشی",
        "مبلمان",
        "اشتراک",
    ],
    "company": [
        "شرکت پارسیان",
        "کلینیک نور",
        "دفتر وکالت صدر",
        "کافه گلستان",
        "آژانس آفتاب",
        "شرکت آریا",
        "فروشگاه مهر",
        "دندانپزشکی لبخند",
        "گروه طراحی نقش",
        "بازرگانی امید",
    ],
    "service": [
        "حسابداری",
        "طراحی سایت",
        "ترجمه",
        "مشاوره",
        "نظافت",
        "تبلیغات",
        "پشتیبانی شبکه",
        "عکاسی",
        "پذیرایی",
        "مشاوره حقوقی",
    ],
    "phone": ["۰۹۱۲۳۴۵۶۷۸۹", "09351234567", "۰۲۱-۸۸۷۷۶۶۵۵", "۰۹۱۹ ۸۷۶ ۵۴۳۲", "0912 111 2233"],
}

# ----------------------------------------------------------------------------- cores
# Each core is the heart of one message; frames below dress it as a voicemail, SMS or mail.

EN_CORE: dict[str, list[str]] = {
    "scheduling": [
        "I'd like to book an appointment with {boss} for {day} at {time}",
        "can we move our meeting from {day} to {time} instead",
        "I need to reschedule my appointment, something came up",
        "please cancel my appointment on {day}",
        "is {boss} available for a quick call {day} around {time}",
        "I'm calling to confirm the meeting on {day} at {time}",
        "could you put a one-hour meeting with {name} on the calendar for {day}",
        "we need to find a time for the quarterly review, {day} works for me",
        "can I get the first available slot next week",
        "running behind, can we push the {time} meeting by thirty minutes",
        "please set up a zoom call with the team {day}",
        "I have a dental checkup booked for {day}, I need to change it",
        "does {boss} have any openings {day} afternoon",
        "please send a calendar invite for {day} at {time}",
        "my consultation is on {day}, can we make it {time} instead",
        "book the conference room for {day} from {time} for two hours",
        "I'd like to schedule an interview with {name} {day}",
        "could we set up a lunch meeting with {name} sometime {day}",
        "I can't make it {day}, what other times do you have",
        "please block {day} morning in the calendar, no meetings",
        "the board meeting has been moved to {day} at {time}",
        "can you arrange a follow-up visit in two weeks",
        "I want to book a table for four {day} at {time} for the client dinner",
        "remind {boss} about the appointment with {name} {day}",
        "just checking whether my appointment {day} at {time} is still on",
        "is there any chance I could see {boss} before the end of the week",
        "we have to postpone the kickoff meeting, everyone's out sick",
        "what time is my appointment {day}, I forgot",
        "can you double-check {boss}'s availability for a 30-minute slot {day}",
        "I'll need to cancel and rebook for some time next month",
        "please add the team offsite to everyone's calendar for {day}",
        "the client wants to meet earlier, can you do {time} {day}",
        "can I bring my appointment forward, I'm free {day}",
    ],
    "travel": [
        "I need a flight to {city} on {day}, economy is fine",
        "please book a hotel in {city} for three nights starting {day}",
        "can you check the status of my flight to {city}",
        "my flight was cancelled, I need to rebook to {city} as soon as possible",
        "I need a rental car at the {city} airport {day}",
        "could you find a cheaper return ticket from {city}",
        "please arrange an airport pickup for {boss} {day} at {time}",
        "I need to change my hotel reservation in {city} to {day}",
        "does {boss} need a visa for the trip to {city}",
        "my luggage didn't arrive in {city}, please file a claim with the airline",
        "book me a train ticket to {city} for {day} morning",
        "please upgrade my seat on the {city} flight to business",
        "what's the itinerary for the {city} trip next week",
        "I'll be travelling to {city} {day}, please book the usual hotel",
        "the conference trip to {city} needs flights and a hotel for two people",
        "can you cancel my hotel booking in {city}, the trip is off",
        "I missed my connection in {city}, please get me on the next flight",
        "please sort out the travel insurance for the {city} trip",
        "find me a window seat on the earliest flight to {city}",
        "we need a shuttle from the hotel to the venue in {city}",
        "can you add a frequent flyer number to my booking to {city}",
        "please book a taxi to the airport {day} at {time}, my flight is at noon",
        "need two tickets to {city} and back, leaving {day}",
        "is there a direct flight to {city} {day} evening",
        "please extend my stay in {city} by two nights",
        "I need to get to {city} by {day} for the conference, what are my options",
        "please check in online for my flight tomorrow and send the boarding pass",
        "the hotel in {city} overbooked us, please find another one nearby",
        "can you book a sleeper train to {city} and a room near the station",
        "I need a visa appointment at the {city} consulate",
        "my flight to {city} is delayed four hours, please tell the hotel",
        "what's the baggage allowance on my flight to {city}",
        "please book the trip to {city}: flights, hotel and a car",
    ],
    "accounting": [
        "I'm calling about invoice {ref}, I think we were charged twice",
        "please send me a copy of the invoice for last month",
        "has the payment of {amount} gone through yet",
        "we still haven't received payment for invoice {ref}",
        "can you tell me the outstanding balance on our account",
        "I need a receipt for the {amount} I paid {day}",
        "the invoice says {amount} but the quote was lower, please check",
        "please process the refund of {amount} to my card",
        "when is the next payment due",
        "can I pay the bill in two installments",
        "our accountant needs the bank statements for the tax return",
        "please reconcile the expenses for the quarter before {day}",
        "the wire transfer of {amount} bounced, can you resend the bank details",
        "I'd like to update the billing address on the account",
        "could you send a reminder to {company} about their overdue invoice",
        "please pay the electricity bill before {day}",
        "I need the VAT figures for last quarter",
        "can you issue a credit note for invoice {ref}",
        "what payment methods do you accept for the invoice",
        "the payroll for this month needs to go out {day}",
        "please log these expenses: taxi {amount} and hotel",
        "my card was charged {amount} and I don't recognise it on the bill",
        "send the 1099 forms to the contractors before the deadline",
        "I transferred {amount} this morning, please confirm you got it",
        "we need an updated statement of account for the auditors",
        "the accountant is asking for last year's receipts",
        "please chase {company}, they're sixty days late on payment",
        "can you send me the profit and loss statement for the quarter",
        "I was charged a late fee even though I paid on time",
        "please set up a direct debit for the monthly rent",
        "we need to pay the supplier {amount} by {day}",
        "could you split the invoice between the two departments",
        "what's our total spend on travel this year",
    ],
    "documents": [
        "could you send me a copy of {doc}",
        "please scan {doc} and email it to {name}",
        "I need {doc} notarized before {day}",
        "can you print {doc} and have it ready for signing",
        "please file {doc} in the client folder",
        "I'm missing page three of {doc}, can you resend it",
        "we need a certified translation of {doc}",
        "please prepare {doc} for {boss} to sign {day}",
        "has {name} returned the signed copy of {doc}",
        "can you find {doc} from last year in the archive",
        "please update {doc} with the new address",
        "I need {doc} as a PDF, not a Word file",
        "please courier the original of {doc} to our lawyer",
        "can you renew the expired permit paperwork",
        "I need a certified copy of {doc} for the visa application",
        "could you shred the old files once they're scanned",
        "please draft a formal letter to {company} about the lease",
        "the form needs to be filled out and submitted by {day}",
        "please share the folder with {doc} with {name}",
        "can you get the records transferred from {company}",
        "I need the paperwork for the new hire ready by {day}",
        "please make three copies of {doc} and stamp them",
        "I uploaded {doc}, can you check that all pages are there",
        "please send over the signed forms so I can file them",
        "could you type up the handwritten notes from the meeting",
        "please get the lawyer to review {doc} before I sign it",
        "can you collect {doc} from the notary office {day}",
        "I need copies of all the signed agreements with {company}",
        "the scanned pages are blurry, please rescan {doc}",
        "please organize the shared drive, the folders are a mess",
        "could you convert these scans to searchable PDFs",
        "we need an apostille on {doc}",
        "please keep the originals in the safe and send me scans",
    ],
    "social_media": [
        "please post the new promotion on {platform} {day}",
        "can you reply to the comments on our latest {platform} post",
        "we got a negative review on {platform}, please respond politely",
        "please schedule three posts for {platform} next week",
        "can you update our bio and profile picture on {platform}",
        "share the event photos on {platform} with a short caption",
        "someone is messaging us on {platform} about prices, please answer the DMs",
        "please put up a story on {platform} about the holiday hours",
        "how many followers did we gain on {platform} this month",
        "can you write a caption for the {platform} post about the launch",
        "please tag {company} in the {platform} post",
        "we need a hashtag for the campaign on {platform}",
        "please delete that old post on {platform}, it has the wrong price",
        "can you retweet the announcement and pin it",
        "please boost the {platform} post with a small budget",
        "our {platform} account got locked, can you recover it",
        "post a thank you to our customers on {platform}",
        "please check the mentions on {platform} and flag anything urgent",
        "can you go live on {platform} {day} at {time}",
        "please answer the influencer who reached out on {platform}",
        "make a reel from the video and upload it to {platform}",
        "the {platform} content calendar for next month needs approval",
        "please share {name}'s article on {platform}",
        "change the cover photo on {platform} to the new logo",
        "please reply to the review and thank them for the five stars",
        "our post went viral, can you keep up with the comments",
        "please draft a few tweets about the new opening hours",
        "someone left a rude comment on {platform}, hide it please",
        "can you reply to the messages in our {platform} inbox",
        "we need more engagement on {platform}, any ideas for posts",
        "please post the job opening on {platform}",
        "could you make a carousel post of the before and after photos",
        "please report the fake account that copies our {platform} page",
    ],
    "sales": [
        "I'd like a quote for {service} for our office",
        "we're interested in your {service} services, can someone call me back with prices",
        "how much would it cost for {service} for a team of twenty",
        "we'd like to discuss a partnership with {company}",
        "can you send me your price list and packages",
        "I saw your ad and I'm interested in becoming a customer",
        "we're looking for a long-term supplier for {service}",
        "please send a proposal for the {service} project by {day}",
        "do you offer a discount for annual contracts",
        "I'm calling from {company}, we'd like to resell your products",
        "a new client, {name}, wants a demo of the service",
        "could we get a bulk pricing quote for two hundred units",
        "we want to sign up for the premium plan, what are the next steps",
        "I was referred by {name} and I'd like to hire you for {service}",
        "is there a trial period before we commit",
        "please follow up with the lead from {company} about the quote",
        "we'd like to renew and expand our contract with more seats",
        "what would a custom package for {service} look like",
        "I'm interested in buying {product}, is it in stock and what's the price",
        "can we set up a sales call to talk about your offer",
        "{company} accepted the proposal, please send the contract",
        "I'd like to become a distributor in {city}",
        "we are comparing vendors for {service}, please send your best offer",
        "could you give me an estimate for the renovation",
        "please add {company} as a new customer and send the welcome pack",
        "we'd like pricing for an enterprise license for about 50 users",
        "a prospect from {company} asked for a callback about our packages",
        "do you have a brochure about your {service} services",
        "we might be interested in a joint venture, who should I talk to",
        "what would it cost to add {service} to our current plan",
        "I'm shopping around for {service}, how do your rates compare",
        "please send the quote to {name} at {company}, they're ready to buy",
        "we're opening a new branch and want to order in bulk",
    ],
    "support": [
        "my order hasn't arrived yet and it's been two weeks",
        "{product} stopped working after two days",
        "I want to complain about the service I got {day}",
        "the package arrived damaged, I want a replacement",
        "I can't log in to my account, it says the password is wrong",
        "the technician never showed up {day}",
        "I received the wrong item, I ordered the blue one",
        "the website keeps giving me an error when I check out",
        "where is my order {ref}, the tracking hasn't updated",
        "I'm very unhappy with how I was treated on the phone",
        "{product} is making a strange noise, can someone fix it",
        "I'd like to return {product}, it doesn't fit",
        "the app crashes every time I open it",
        "this is the third time I'm calling about the same problem",
        "my internet has been down since {day}",
        "the delivery was missing two items",
        "I was promised a callback about my complaint and nobody called",
        "the warranty repair is taking too long",
        "please cancel my order {ref}, it's been delayed again",
        "the heating in the office isn't working",
        "{product} arrived broken, what do I do",
        "I need help setting up {product}",
        "your courier left the parcel outside in the rain",
        "the quality is really poor, I want to file a complaint",
        "can you tell me the status of my repair request",
        "I've been waiting on hold for an hour, this is unacceptable",
        "the replacement you sent has the same defect",
        "my refund was approved but I still haven't got a working unit",
        "the installer damaged my wall, who is going to fix this",
        "I can't reset my password, the email never comes",
        "the order was marked delivered but I never received it",
        "the invoice is fine but the product is faulty, I want it repaired",
        "nobody answers the support line, please help",
    ],
    "message": [
        "please ask {boss} to call me back at {phone}",
        "just let {boss} know that I called",
        "can you tell {name} I'll be late today",
        "please pass the message to {boss} that I'm outside",
        "call me back when you get a chance, it's {name}",
        "tell {name} the kids are fine and not to worry",
        "I'm returning {boss}'s call from this morning",
        "please have {name} ring me on my mobile",
        "just wanted to say thank you for yesterday",
        "let {boss} know I got the package, thanks",
        "tell {name} I'll call again {day}",
        "can you give {boss} my new number, it's {phone}",
        "this is {name}, nothing urgent, just call me when you can",
        "I tried to reach {boss} on his cell, please tell him to call me",
        "please let {name} know the keys are at the front desk",
        "{name} here, I'm stuck in traffic, tell them I'm on my way",
        "just checking in, give me a call",
        "please tell {boss} his wife called",
        "I'm a friend of {name}, could you ask her to get in touch",
        "message for {boss}: the parcel was picked up",
        "tell {name} congratulations from all of us",
        "please let {boss} know I'm back in the office {day}",
        "could you leave a note for {name} to call the school",
        "it's {name}, I got your message, call me back",
        "ok thanks, got it, talk later",
        "hi, it's {name}, just returning your call",
        "please let {boss} know that {name} called about lunch",
        "could you tell {name} I left my umbrella in the office",
        "no need to call back, just wanted to say hi",
        "tell {boss} I'll swing by later if that's ok",
        "please tell {name} that dinner is at seven",
        "just a quick note for {boss}, I'm running about ten minutes late",
        "{name} asked me to pass on her thanks",
    ],
    "spam": [
        "congratulations, you've been selected to receive a free cruise, press 1 now",
        "this is an important message about your car's extended warranty",
        "limited time offer: 70% off everything, click here to shop now",
        "you have won a $1,000 gift card, reply YES to claim",
        "lower your interest rate today, press 9 to be removed from our list",
        "get rich working from home, no experience needed",
        "your account will be suspended, verify your details at this link",
        "exclusive deal just for you, unsubscribe at any time",
        "our newsletter: top 10 productivity tips for this week",
        "final notice: claim your prize before midnight",
        "buy cheap meds online, no prescription required",
        "hot singles in your area are waiting to meet you",
        "this is not a sales call, we are offering free solar panel inspections",
        "earn bitcoin daily with our guaranteed investment plan",
        "you are pre-approved for a loan of $50,000, call now",
        "SALE SALE SALE biggest discounts of the year, shop today",
        "dear customer, your parcel is on hold, pay the customs fee here",
        "we noticed unusual activity, click to verify your password",
        "join our webinar and double your revenue in 30 days",
        "hello friend, I am a prince and need your help to transfer funds",
        "free trial of our weight loss pills, just pay shipping",
        "your google listing is about to expire, press 1 to speak to a specialist",
        "this month's digest: new arrivals, promo codes and more",
        "act now! lowest mortgage rates guaranteed",
        "you have an unclaimed tax refund, reply with your bank details",
        "claim your free iphone now, only 3 left",
        "your subscription has been renewed for $499, call this number to cancel",
        "meet the new collection, free shipping on orders over $50",
        "you've been chosen for an exclusive survey, win a $500 voucher",
        "press 1 to speak with a debt relief specialist",
        "urgent: your social security number has been suspended",
        "cheap flights and hotels, book now and save 60%",
        "this is your weekly newsletter, click to read more",
    ],
}

FA_CORE: dict[str, list[str]] = {
    "scheduling": [
        "می‌خواستم برای {day} {time} یه نوبت بگیرم",
        "امکانش هست جلسه‌مون رو از {day} بندازیم به یه روز دیگه",
        "لطفاً نوبت {day} من رو کنسل کنید",
        "آیا {boss} {day} {time} وقت دارن",
        "برای تایید جلسه {day} {time} تماس گرفتم",
        "یه قرار ملاقات با {boss} می‌خواستم",
        "نوبتم رو میشه یه ساعت عقب‌تر بندازید",
        "لطفاً یک جلسه یک‌ساعته با آقای {name} در تقویم {day} ثبت کنید",
        "خواهشمند است زمان جلسه هماهنگی را به {day} {time} تغییر دهید",
        "من {day} نمی‌رسم بیام، یه وقت دیگه بهم بدید",
        "اولین وقت خالی هفته بعد کیه",
        "می‌خواستم وقت دندونپزشکیم رو عوض کنم",
        "جلسه هیئت مدیره به {day} {time} منتقل شد",
        "لطفاً اتاق جلسات را برای {day} {time} رزرو کنید",
        "یه وقت مشاوره برای {day} می‌خوام",
        "دعوت‌نامه جلسه {day} رو برام بفرستید",
        "قرار ناهار با {name} رو برای {day} هماهنگ کنید",
        "برای مصاحبه با {name} یه زمان {day} بذارید",
        "نوبت ویزیت بعدی من کِی هست",
        "ببخشید، قرار امروزمون سر جاشه؟",
        "صبح {day} رو تو تقویم خالی نگه دارید، جلسه نذارید",
        "می‌خوام وقت ملاقاتم رو با {boss} جابه‌جا کنم",
        "لطفاً برای {day} یک میز چهار نفره برای شام کاری رزرو کنید",
        "ساعت جلسه رو لطفاً به {time} تغییر بدید",
        "نوبت آزمایشم رو برای {day} ثبت کنید",
        "امکانش هست قبل از آخر هفته {boss} رو ببینم",
        "جلسه افتتاحیه رو باید عقب بندازیم",
        "نوبتم {day} ساعت چنده، یادم رفته",
        "لطفاً تقویم {boss} رو برای یه جلسه نیم‌ساعته {day} چک کنید",
        "باید نوبتم رو کنسل کنم و برای ماه بعد بگیرم",
        "مشتری می‌خواد زودتر همدیگه رو ببینیم، {day} {time} میشه؟",
        "می‌تونم نوبتم رو جلو بندازم؟ {day} آزادم",
        "خواهشمند است وقت ملاقاتی با {boss} در {day} تعیین فرمایید",
    ],
    "travel": [
        "یه بلیط هواپیما برای {city} {day} لازم دارم",
        "لطفاً برای سه شب در {city} هتل رزرو کنید",
        "پروازم به {city} کنسل شد، یه پرواز دیگه برام بگیرید",
        "وضعیت پرواز {city} رو چک می‌کنید؟",
        "برای سفر {city} ویزا لازمه؟",
        "لطفاً ترانسفر فرودگاه برای {boss} {day} {time} هماهنگ کنید",
        "رزرو هتلم در {city} رو به {day} تغییر بدید",
        "چمدونم تو فرودگاه {city} گم شده",
        "یه بلیط قطار برای {city} {day} صبح می‌خوام",
        "برنامه سفر {city} هفته بعد چیه",
        "خواهشمند است بلیط رفت و برگشت {city} برای دو نفر تهیه شود",
        "تور {city} برای تعطیلات عید قیمتش چنده",
        "لطفاً رزرو هتل {city} رو لغو کنید، سفر کنسل شد",
        "صندلی کنار پنجره تو پرواز {city} می‌خوام",
        "برای سمینار {city} پرواز و هتل لازم داریم",
        "لطفاً بیمه مسافرتی سفر {city} رو انجام بدید",
        "اقامتم در {city} رو دو شب تمدید کنید",
        "پرواز مستقیم به {city} برای {day} هست؟",
        "ماشین اجاره‌ای تو فرودگاه {city} لازم دارم",
        "پاسپورتم تاریخش گذشته، برای سفر {city} مشکل پیش نمیاد؟",
        "یه آژانس برای فرودگاه {day} {time} بگیرید، پروازم ظهره",
        "بلیط اتوبوس {city} برای {day} شب بگیرید",
        "پروازم تاخیر داره، به هتل {city} خبر بدید دیرتر می‌رسم",
        "لطفاً ویزای {city} رو برای {boss} پیگیری کنید",
        "کارت پرواز {city} رو برام بفرستید",
        "باید تا {day} برای همایش برسم {city}، چه راهی دارم",
        "لطفاً چک‌این آنلاین پروازم رو انجام بدید",
        "هتل {city} اتاق‌مون رو داده به یکی دیگه، یه هتل دیگه پیدا کنید",
        "یه کوپه قطار برای {city} و یه اتاق نزدیک ایستگاه بگیرید",
        "برای سفارت {city} وقت ویزا لازم دارم",
        "بار مجاز پرواز {city} چند کیلوئه",
        "کل سفر {city} رو رزرو کنید: پرواز، هتل و ماشین",
        "بلیط برگشت از {city} رو یه روز عقب بندازید",
    ],
    "accounting": [
        "در مورد فاکتور شماره {ref} تماس گرفتم، فکر کنم دوبار از حسابم کم شده",
        "لطفاً فاکتور ماه گذشته رو برام بفرستید",
        "مبلغ {amount} رو واریز کردم، لطفاً تایید کنید",
        "هنوز پول فاکتور {ref} به حساب ما نیومده",
        "مانده حساب ما چقدره",
        "رسید پرداخت {amount} رو لازم دارم",
        "صورتحساب {amount} زده ولی پیش‌فاکتور کمتر بود",
        "لطفاً مبلغ {amount} رو به کارتم برگردونید",
        "قسط بعدی کِی سررسید میشه",
        "میشه قبض رو دو قسط پرداخت کنم",
        "حسابدار ما صورت‌حساب‌های بانکی رو برای اظهارنامه مالیاتی می‌خواد",
        "خواهشمند است تسویه حساب فصل را تا {day} انجام دهید",
        "شماره شبا رو دوباره بفرستید، انتقال {amount} برگشت خورد",
        "لطفاً به {company} برای فاکتور معوقه یادآوری کنید",
        "قبض برق رو تا {day} پرداخت کنید",
        "گزارش ارزش افزوده فصل قبل رو لازم دارم",
        "حقوق این ماه کارمندا باید {day} واریز بشه",
        "این هزینه‌ها رو ثبت کنید: تاکسی {amount} و هتل",
        "از کارتم {amount} کسر شده که نمی‌دونم بابت چیه",
        "چک {amount} برگشت خورده، چیکار کنیم",
        "لطفاً صورت وضعیت حساب رو برای حسابرس بفرستید",
        "بدهی ما به {company} چقدر مونده",
        "فاکتور رسمی با کد اقتصادی لازم دارم",
        "امروز صبح {amount} کارت به کارت کردم، رسید رو می‌فرستم",
        "اظهارنامه مالیاتی باید تا آخر ماه ارسال بشه",
        "حسابدار رسیدهای پارسال رو می‌خواد",
        "{company} شصت روزه پول ما رو نداده، پیگیری کنید",
        "صورت سود و زیان فصل رو برام بفرستید",
        "با اینکه سر موقع پرداخت کردم جریمه دیرکرد خوردم",
        "اجاره ماهانه رو برای برداشت خودکار تنظیم کنید",
        "باید {amount} به تامین‌کننده تا {day} پرداخت کنیم",
        "هزینه‌های سفر امسال جمعاً چقدر شده",
        "لطفاً تراز حساب‌ها رو تا آخر ماه ببندید",
    ],
    "documents": [
        "لطفاً یک کپی از {doc} برام بفرستید",
        "{doc} رو اسکن کنید و برای {name} ایمیل کنید",
        "{doc} باید تا {day} محضری بشه",
        "لطفاً {doc} رو پرینت بگیرید که امضا کنیم",
        "{doc} رو تو پرونده مشتری بایگانی کنید",
        "صفحه سوم {doc} نیست، دوباره بفرستید",
        "ترجمه رسمی {doc} لازم داریم",
        "لطفاً {doc} را برای امضای {boss} در {day} آماده کنید",
        "{name} نسخه امضاشده {doc} رو برگردونده؟",
        "{doc} پارسال رو تو بایگانی پیدا کنید",
        "آدرس جدید رو تو {doc} اصلاح کنید",
        "{doc} رو PDF کنید، فایل ورد نمی‌خوام",
        "اصل {doc} رو با پیک برای وکیلمون بفرستید",
        "مدارک تمدید مجوز رو آماده کنید",
        "برای درخواست ویزا، کپی برابر اصل {doc} لازمه",
        "پرونده‌های قدیمی رو بعد از اسکن معدوم کنید",
        "یک نامه رسمی به {company} در مورد اجاره بنویسید",
        "فرم باید تا {day} پر و ارسال بشه",
        "پوشه {doc} رو با {name} به اشتراک بذارید",
        "مدارک استخدام نیروی جدید رو تا {day} آماده کنید",
        "از {doc} سه تا کپی بگیرید و مهر کنید",
        "{doc} رو آپلود کردم، ببینید همه صفحه‌هاش هست",
        "دست‌نوشته‌های جلسه رو تایپ کنید",
        "خواهشمند است مستندات پروژه را به‌روزرسانی فرمایید",
        "لطفاً نامه رو روی سربرگ شرکت بزنید و شماره نامه بگیرید",
        "لطفاً قبل از امضا {doc} رو بدید وکیل بخونه",
        "{doc} رو {day} از دفترخونه بگیرید",
        "کپی همه قراردادهای امضاشده با {company} رو لازم دارم",
        "اسکن‌ها تاره، {doc} رو دوباره اسکن کنید",
        "پوشه‌های درایو مشترک رو مرتب کنید، خیلی بهم ریخته‌ست",
        "اصل مدارک رو تو گاوصندوق بذارید و اسکنش رو برام بفرستید",
        "برای {doc} تاییدیه دادگستری و خارجه لازمه",
        "فرم‌های بیمه رو پر کنید و امضا بگیرید",
    ],
    "social_media": [
        "لطفاً تخفیف جدید رو {day} تو {platform} پست کنید",
        "به کامنت‌های آخرین پست {platform} جواب بدید",
        "یه نظر منفی تو {platform} گذاشتن، لطفاً مودبانه جواب بدید",
        "سه تا پست برای هفته بعد {platform} زمان‌بندی کنید",
        "بیو و عکس پروفایل {platform} رو عوض کنید",
        "عکس‌های مراسم رو با یه کپشن کوتاه تو {platform} بذارید",
        "تو دایرکت {platform} قیمت می‌پرسن، جواب بدید",
        "یه استوری درباره ساعت کاری تعطیلات بذارید",
        "این ماه چند تا فالوور تو {platform} گرفتیم",
        "برای پست معرفی محصول جدید یه کپشن بنویسید",
        "تو پست {platform} {company} رو تگ کنید",
        "برای کمپین {platform} یه هشتگ لازم داریم",
        "اون پست قدیمی {platform} رو پاک کنید، قیمتش اشتباهه",
        "پیج {platform} ما هک شده، لطفاً پیگیری کنید",
        "یه پست تشکر از مشتری‌ها تو {platform} بذارید",
        "منشن‌های {platform} رو چک کنید",
        "{day} {time} تو {platform} لایو داریم، اطلاع‌رسانی کنید",
        "به اینفلوئنسری که تو {platform} پیام داده جواب بدید",
        "از ویدیو یه ریلز درست کنید و تو {platform} بذارید",
        "تقویم محتوای {platform} ماه بعد باید تایید بشه",
        "مقاله {name} رو تو {platform} به اشتراک بذارید",
        "کاور هایلایت‌های پیج رو با لوگوی جدید عوض کنید",
        "پست {platform} رو با یه بودجه کم تبلیغ کنید",
        "آمار بازدید استوری‌های این هفته رو بفرستید",
        "جواب پیام‌های کانال تلگرام رو بدید",
        "پستمون وایرال شده، کامنت‌ها رو جواب بدید",
        "چند تا توییت درباره ساعت کاری جدید بنویسید",
        "یکی زیر پست {platform} فحش داده، پاکش کنید",
        "تعامل پیج {platform} کم شده، ایده پست بدید",
        "آگهی استخدام رو تو {platform} بذارید",
        "عکس‌های قبل و بعد رو یه پست اسلایدی کنید",
        "یه پیج فیک از روی پیج ما ساختن، ریپورتش کنید",
        "لینک سایت رو تو بیو {platform} بذارید",
    ],
    "sales": [
        "برای {service} دفترمون پیش‌فاکتور می‌خواستم",
        "به خدمات {service} شما علاقه‌مندیم، لطفاً قیمت‌ها رو اعلام کنید",
        "هزینه {service} برای یه تیم بیست نفره چقدر میشه",
        "می‌خواستیم در مورد همکاری با {company} صحبت کنیم",
        "لیست قیمت و پکیج‌هاتون رو بفرستید",
        "تبلیغتون رو دیدم، می‌خوام مشتری بشم",
        "دنبال یه تامین‌کننده بلندمدت برای {service} هستیم",
        "لطفاً پروپوزال پروژه {service} رو تا {day} بفرستید",
        "برای قرارداد سالانه تخفیف دارید؟",
        "از {company} تماس می‌گیرم، می‌خوایم نماینده فروش شما بشیم",
        "یه مشتری جدید به اسم {name} دمو می‌خواد",
        "برای خرید عمده دویست عدد استعلام قیمت می‌خوام",
        "می‌خوایم پلن ویژه رو بخریم، مراحلش چیه",
        "{name} شما رو معرفی کرده، می‌خوام برای {service} باهاتون قرارداد ببندم",
        "دوره آزمایشی دارید قبل از خرید؟",
        "سرنخ فروش {company} رو درباره پیش‌فاکتور پیگیری کنید",
        "می‌خوایم قراردادمون رو تمدید و بیشتر کنیم",
        "یه پکیج اختصاصی برای {service} چطوری میشه",
        "این محصول موجوده؟ قیمتش چنده",
        "{company} پیشنهاد رو قبول کرد، قرارداد رو بفرستید",
        "می‌خوام نمایندگی شما تو {city} رو بگیرم",
        "داریم چند تا شرکت رو برای {service} مقایسه می‌کنیم، بهترین قیمت‌تون رو بدید",
        "برای بازسازی دفتر برآورد هزینه می‌خوام",
        "{company} رو به عنوان مشتری جدید ثبت کنید",
        "خواهشمند است شرایط همکاری و فهرست قیمت را ارسال فرمایید",
        "برای لایسنس سازمانی پنجاه کاربر قیمت می‌خوایم",
        "یه مشتری از {company} خواسته درباره پکیج‌ها باهاش تماس بگیرید",
        "کاتالوگ خدمات {service} رو دارید؟",
        "شاید بخوایم سرمایه‌گذاری مشترک کنیم، با کی صحبت کنم",
        "اضافه کردن {service} به قرارداد فعلی‌مون چقدر هزینه داره",
        "دارم برای {service} قیمت می‌گیرم، نرخ شما چنده",
        "پیش‌فاکتور رو برای {name} از {company} بفرستید، آماده خریدن",
        "یه شعبه جدید داریم باز می‌کنیم و می‌خوایم عمده سفارش بدیم",
    ],
    "support": [
        "{product} هنوز نرسیده، دو هفته گذشته",
        "{product} بعد از دو روز خراب شد",
        "از برخورد کارمندتون {day} شکایت دارم",
        "بسته آسیب دیده رسیده، تعویض می‌خوام",
        "نمی‌تونم وارد حسابم بشم، میگه رمز اشتباهه",
        "تعمیرکار {day} اصلاً نیومد",
        "کالای اشتباه فرستادید، من آبی سفارش داده بودم",
        "سایت موقع پرداخت خطا میده",
        "سفارش شماره {ref} کجاست، کد رهگیری آپدیت نشده",
        "از خدماتتون خیلی ناراضی‌ام",
        "{product} صدای عجیبی میده، یکی بیاد درستش کنه",
        "می‌خوام {product} رو مرجوع کنم",
        "اپلیکیشن هر بار باز می‌کنم بسته میشه",
        "این سومین باره که برای همین مشکل زنگ می‌زنم",
        "اینترنتم از {day} قطعه",
        "دو قلم از سفارشم کم بود",
        "قرار بود درباره شکایتم باهام تماس بگیرن، کسی زنگ نزد",
        "تعمیر گارانتی خیلی طول کشیده",
        "سفارش {ref} رو لغو کنید، باز تاخیر خورده",
        "شوفاژ دفتر کار نمی‌کنه",
        "{product} شکسته رسیده، چیکار کنم",
        "برای راه‌اندازی {product} کمک لازم دارم",
        "پیک بسته رو زیر بارون جلوی در گذاشته",
        "کیفیت خیلی پایینه، می‌خوام شکایت ثبت کنم",
        "وضعیت درخواست تعمیرم چی شد",
        "یک ساعته پشت خطم، این اصلاً قابل قبول نیست",
        "دستگاهی که جایگزین فرستادید همون ایراد رو داره",
        "نصاب دیوار خونه رو خراب کرده، کی جبران می‌کنه",
        "ایمیل بازیابی رمز هیچ‌وقت نمیاد",
        "زده تحویل داده شده ولی من چیزی نگرفتم",
        "هیچکس تلفن پشتیبانی رو جواب نمیده، کمک کنید",
        "گارانتی رو قبول نمی‌کنن، می‌خوام شکایت کنم",
        "{product} از روز اول درست کار نکرده",
    ],
    "message": [
        "لطفاً به {boss} بگید با من تماس بگیرن، شماره‌م {phone}",
        "فقط به {boss} بگید من زنگ زدم",
        "به {name} بگید امروز دیرتر میام",
        "لطفاً به {boss} پیغام بدید که من دم در هستم",
        "هر وقت تونستید با من تماس بگیرید، {name} هستم",
        "به {name} بگید بچه‌ها خوبن نگران نباشه",
        "در جواب تماس صبح {boss} زنگ زدم",
        "لطفاً بگید {name} با موبایلم تماس بگیره",
        "فقط خواستم بابت دیروز تشکر کنم",
        "به {boss} بگید بسته رو گرفتم، ممنون",
        "به {name} بگید {day} دوباره زنگ می‌زنم",
        "شماره جدیدم رو به {boss} بدید: {phone}",
        "{name} هستم، کار فوری ندارم، هر وقت شد زنگ بزنید",
        "موبایل {boss} رو جواب نمیده، بگید با من تماس بگیره",
        "به {name} بگید کلیدها پیش نگهبانیه",
        "{name} هستم، تو ترافیکم، بگید دارم میام",
        "خواستم حالی بپرسم، یه زنگ بزنید",
        "به {boss} بگید خانمشون تماس گرفتن",
        "از دوستای {name} هستم، بگید باهام تماس بگیره",
        "پیغام برای {boss}: بسته تحویل داده شد",
        "از طرف همه به {name} تبریک بگید",
        "به {boss} بگید {day} برمی‌گردم دفتر",
        "یادداشت بذارید که {name} با مدرسه تماس بگیره",
        "{name} هستم، پیامتون رسید، باهام تماس بگیرید",
        "باشه ممنون، متوجه شدم، بعداً صحبت می‌کنیم",
        "سلام، {name} هستم، در جواب تماستون زنگ زدم",
        "به {boss} بگید {name} درباره ناهار زنگ زد",
        "به {name} بگید چترم تو دفتر جا مونده",
        "لازم نیست زنگ بزنید، فقط خواستم سلام کنم",
        "به {boss} بگید اگه اشکال نداره بعداً یه سر میزنم",
        "به {name} بگید شام ساعت هفته",
        "یه پیغام کوتاه برای {boss}: ده دقیقه دیرتر می‌رسم",
        "{name} گفت از طرفش تشکر کنم",
    ],
    "spam": [
        "تبریک! شما برنده یک سفر رایگان شدید، برای دریافت عدد ۱ را بفرستید",
        "تخفیف ویژه ۷۰ درصد فقط تا امشب، همین حالا خرید کنید",
        "شما برنده کارت هدیه ۵ میلیونی شدید، روی لینک بزنید",
        "وام فوری بدون ضامن، همین الان تماس بگیرید",
        "کسب درآمد دلاری از خانه بدون نیاز به تجربه",
        "حساب شما مسدود خواهد شد، اطلاعات خود را در این لینک وارد کنید",
        "پیشنهاد اختصاصی برای شما، لغو ۱۱",
        "خبرنامه این هفته: ده نکته برای افزایش فروش",
        "آخرین فرصت برای دریافت جایزه تا نیمه شب",
        "فروش ویژه پایان فصل، حراج حراج حراج",
        "ابلاغیه: برای مشاهده جزئیات روی لینک کلیک کنید",
        "کسب سود تضمینی روزانه با سرمایه‌گذاری در ارز دیجیتال",
        "پکیج لاغری معجزه‌آسا با ارسال رایگان",
        "مشترک گرامی، شارژ هدیه شما آماده است، کد را وارد کنید",
        "این یک پیام تبلیغاتی است، برای شنیدن پیشنهاد ویژه کلید ۱ را فشار دهید",
        "بسته پستی شما در گمرک مانده، هزینه ترخیص را پرداخت کنید",
        "دوره آموزشی یک‌شبه میلیونر شوید، ثبت نام کنید",
        "فالوور واقعی و لایک ارزان، همین حالا سفارش دهید",
        "سهام عدالت شما آزاد شد، برای دریافت لینک را باز کنید",
        "بهترین قیمت آپارتمان در شمال، تماس بگیرید",
        "هدیه تولد از طرف فروشگاه، کد تخفیف ۵۰ درصدی",
        "یارانه جدید واریز شد، برای ثبت اطلاعات کلیک کنید",
        "وبینار رایگان: درآمدتان را در ۳۰ روز دو برابر کنید",
        "جدیدترین محصولات و کدهای تخفیف این ماه در خبرنامه ما",
        "اطلاعیه مهم درباره بیمه خودروی شما، کلید ۹ را بزنید",
        "آیفون رایگان خود را همین حالا دریافت کنید، فقط ۳ عدد باقی مانده",
        "کلکسیون جدید رسید، ارسال رایگان برای خرید بالای ۵۰۰ هزار تومان",
        "شما برای نظرسنجی ویژه انتخاب شدید، جایزه ۵ میلیونی ببرید",
        "پرواز و هتل ارزان، همین امروز رزرو کنید و ۶۰ درصد صرفه‌جویی کنید",
        "خبرنامه هفتگی ما منتشر شد، برای مطالعه کلیک کنید",
        "با خرید این بسته، ماهی ۵۰ میلیون درآمد داشته باشید",
        "کد قرعه‌کشی شما فعال شد، جهت شرکت عدد ۱ را ارسال کنید",
        "جشنواره فروش بزرگ با تخفیف‌های باورنکردنی آغاز شد",
    ],
}

# Finglish (Persian in Latin letters) cores: labelled fa, as the language detector labels them.
FINGLISH_CORE: dict[str, list[str]] = {
    "scheduling": [
        "salam mikhastam baraye {day} nobat begiram",
        "jalase ro mishe bendazid {day}",
        "nobate man ro cancel konid lotfan",
        "ghrar e ma {day} sare jash hast?",
    ],
    "travel": [
        "ye belit baraye {city} mikhastam",
        "lotfan hotel {city} ro reserve konid",
        "parvazam be {city} cancel shod",
        "belit e ghatar {city} baraye {day}",
    ],
    "accounting": [
        "factor e mahe ghabl ro befrestid",
        "{amount} variz kardam lotfan check konid",
        "pool e factor hanooz nayoomade",
        "ghest e baadi key hast",
    ],
    "documents": [
        "lotfan gharardad ro scan konid befrestid",
        "copy e shenasname ro mikhastam",
        "madarek ro print begirid emza konam",
        "tarjome rasmi e madarek lazem darim",
    ],
    "social_media": [
        "post e jadid ro too insta bezarid",
        "be comment haye page javab bedid",
        "ye story baraye takhfif bezarid",
        "direct e insta ro javab bedid",
    ],
    "sales": [
        "list e gheymat ha ro befrestid",
        "pish factor baraye {service} mikhastam",
        "mikhaim ba shoma hamkari konim",
        "baraye kharid e omde takhfif darid?",
    ],
    "support": [
        "sefaresham hanooz naresid",
        "dastgah kharab shode",
        "az khadamatetoon naraziam",
        "nemitoonam login konam",
    ],
    "message": [
        "be {boss} begid zang zadam",
        "lotfan begid bahat tamas begire",
        "merci, bashe, baadan sohbat mikonim",
        "be {name} begid dir miam",
    ],
    "spam": [
        "shoma barande jayeze shodid rooye link bezanid",
        "takhfif vizhe faghat emshab",
        "vam e fori bedoone zamen",
        "laghv 11",
    ],
}

# ----------------------------------------------------------------------------- frames

EN_OPEN_VOICE = [
    "uh, hi, this is {name}",
    "hi, um, it's {name} calling",
    "hey, it's {name} here",
    "hello, uh, this message is for {boss}",
    "hi there, this is {name} from {company}",
    "good morning, um, {name} speaking",
    "yeah hi, uh",
]
EN_CLOSE_VOICE = [
    "my number is {phone}, thanks",
    "thanks, bye",
    "ok, um, thanks so much",
    "call me back at {phone}",
    "that's it, thank you",
    "bye bye",
    "",
]
EN_OPEN_MAIL_FORMAL = [
    "Dear {name},",
    "Hello,",
    "Good afternoon,",
    "Dear Sir or Madam,",
    "To whom it may concern,",
]
EN_CLOSE_MAIL_FORMAL = [
    "Kind regards, {name}",
    "Best regards,\n{name}",
    "Sincerely, {name}",
    "Thank you in advance. {name}",
]
EN_OPEN_MAIL_INFORMAL = ["Hi,", "Hey {name},", "Hi there -", "Morning!", "Hello again,"]
EN_CLOSE_MAIL_INFORMAL = ["Thanks!", "Cheers, {name}", "thx", "Talk soon", "Sent from my iPhone"]
# Bulk senders and robocalls do not introduce themselves by name.
EN_SPAM_OPEN_VOICE = [
    "hello, this is an automated message",
    "this call is from the customer rewards department",
    "hi, this is Amy from account services",
    "attention",
    "hello",
]
EN_SPAM_CLOSE_VOICE = ["press 9 to be removed from our list", "goodbye", "call us back now", ""]
EN_SPAM_OPEN_MAIL = ["Dear valued customer,", "Hi there!", "Dear friend,", "Hello,", ""]
EN_SPAM_CLOSE_MAIL = [
    "To unsubscribe, click here.",
    "Reply STOP to opt out.",
    "You are receiving this email because you signed up on our website.",
    "Terms and conditions apply.",
    "",
]
# Sentences any message may carry, whatever it is about: the model must learn to ignore them.
EN_NEUTRAL = [
    "I hope you're well.",
    "Sorry for the late reply.",
    "Hope your week is going well.",
    "I'm in the office until five.",
    "Let me know if you have any questions.",
    "Thanks again for your help.",
    "I'll be on my mobile all day.",
    "Sorry to bother you.",
]
EN_FILLERS = ["uh", "um", "you know", "like", "sorry", "I mean"]

FA_OPEN_VOICE = [
    "سلام… ببخشید… {name} هستم",
    "الو سلام، اِ… {name} هستم",
    "سلام وقتتون بخیر",
    "سلام خسته نباشید، ببخشید مزاحم شدم",
    "الو… سلام… از {company} تماس می‌گیرم",
    "سلام، {name} هستم از {company}",
    "سلام، ببخشید…",
]
FA_CLOSE_VOICE = [
    "شماره‌م {phone} هست، ممنون",
    "ممنون، خداحافظ",
    "مرسی، خدانگهدار",
    "لطفاً با {phone} تماس بگیرید",
    "قربونتون برم، خداحافظ",
    "ممنونم",
    "",
]
FA_OPEN_MAIL_FORMAL = [
    "با سلام و احترام،",
    "جناب آقای {name}، با سلام",
    "سرکار خانم {name}، با احترام",
    "احتراماً،",
    "با سلام،",
]
FA_CLOSE_MAIL_FORMAL = [
    "با تشکر، {name}",
    "با احترام، {name}",
    "پیشاپیش از همکاری شما سپاسگزارم.",
    "با سپاس فراوان",
]
FA_OPEN_MAIL_INFORMAL = ["سلام", "سلام {name} جان", "سلام خوبی؟", "درود", "سلام صبح بخیر"]
FA_CLOSE_MAIL_INFORMAL = ["مرسی", "ممنون", "فدات", "مرسی 🙏", "قربانت"]
FA_SPAM_OPEN_VOICE = [
    "این یک پیام خودکار است",
    "مشترک گرامی",
    "سلام، از واحد باشگاه مشتریان تماس می‌گیریم",
    "",
]
FA_SPAM_CLOSE_VOICE = ["برای لغو عدد ۹ را فشار دهید", "با تشکر", ""]
FA_SPAM_OPEN_MAIL = ["مشتری گرامی،", "کاربر عزیز،", "سلام دوست عزیز!", ""]
FA_SPAM_CLOSE_MAIL = [
    "لغو۱۱",
    "جهت لغو عضویت عدد ۱۱ را ارسال کنید",
    "این پیام به صورت خودکار ارسال شده است",
    "",
]
FA_NEUTRAL = [
    "امیدوارم حالتون خوب باشه.",
    "ببخشید دیر جواب دادم.",
    "تا ساعت ۵ دفترم.",
    "اگه سوالی بود در خدمتم.",
    "باز هم ممنون از لطفتون.",
    "ببخشید مزاحم شدم.",
    "روز خوبی داشته باشید.",
    "موبایلم روشنه.",
]
FA_FILLERS = ["اِ", "چیزه", "یعنی", "ببخشید", "خب", "راستش"]
# English words Persian speakers mix in; each replaces a Persian word where it occurs.
FA_MIX = {
    "جلسه": "meeting",
    "فاکتور": "invoice",
    "پست": "post",
    "قرارداد": "contract",
    "کنسل": "cancel",
    "ممنون": "thanks",
    "مرسی": "thanks",
    "پرواز": "flight",
    "شکایت": "complaint",
    "قیمت": "price",
    "تماس بگیرید": "call بزنید",
    "فایل": "file",
}
EN_TYPO_SWAPS = [
    ("you", "u"),
    ("please", "pls"),
    ("thanks", "thx"),
    ("tomorrow", "tmrw"),
    ("appointment", "appt"),
    ("because", "cuz"),
    ("I'm", "im"),
    ("don't", "dont"),
]
FA_VARIANTS = [("ی", "ي"), ("ک", "ك"), ("\u200c", ""), ("\u200c", " ")]


def _fill(template: str, fill: dict[str, list[str]], rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(fill[m.group(1)]), template)


def _typo(text: str, rng: random.Random) -> str:
    """One dropped or doubled letter, as a hurried typist makes."""
    words = text.split(" ")
    i = rng.randrange(len(words))
    w = words[i]
    if len(w) > 3:
        j = rng.randrange(1, len(w) - 1)
        w = w[:j] + w[j + 1 :] if rng.random() < 0.6 else w[:j] + w[j] + w[j:]
        words[i] = w
    return " ".join(words)


def _disfluent(text: str, fillers: list[str], rng: random.Random, comma: str = ",") -> str:
    words = text.split(" ")
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(words))
        if rng.random() < 0.3:
            words.insert(i, words[i])  # a repeated word: "I- I need"
        else:
            words.insert(i, rng.choice(fillers) + comma)
    return " ".join(words)


def en_message(core: str, rng: random.Random, category: str = "") -> str:
    body = _fill(core, EN_FILL, rng)
    spam = category == "spam"
    if rng.random() < 0.25:
        neutral = rng.choice(EN_NEUTRAL)
        body = f"{neutral} {body}" if rng.random() < 0.5 else f"{body}. {neutral}"
    register = rng.choices(["voice", "sms", "formal", "informal", "bare"], [3, 3, 2, 2, 1])[0]
    if register == "voice":
        body = _disfluent(body, EN_FILLERS, rng)
        opening, closing = (
            (EN_SPAM_OPEN_VOICE, EN_SPAM_CLOSE_VOICE) if spam else (EN_OPEN_VOICE, EN_CLOSE_VOICE)
        )
        text = f"{_fill(rng.choice(opening), EN_FILL, rng)}, {body}. "
        text += _fill(rng.choice(closing), EN_FILL, rng)
        text = text.lower() if rng.random() < 0.5 else text  # transcripts are often lower case
    elif register == "sms":
        text = body
        for a, b in EN_TYPO_SWAPS:
            if rng.random() < 0.5:
                text = text.replace(a, b)
        text = text.lower() if rng.random() < 0.6 else text
        text += rng.choice(["", "", "?", "!!", " thx", " pls", " :)"])
    elif spam and register in ("formal", "informal"):
        text = (
            f"{rng.choice(EN_SPAM_OPEN_MAIL)}\n{body[0].upper()}{body[1:]}!\n"
            f"{rng.choice(EN_SPAM_CLOSE_MAIL)}"
        )
    elif register == "formal":
        text = (
            f"{_fill(rng.choice(EN_OPEN_MAIL_FORMAL), EN_FILL, rng)}\n"
            f"{body[0].upper()}{body[1:]}. "
            f"{rng.choice(['Please let me know.', 'I look forward to your reply.', ''])}\n"
            f"{_fill(rng.choice(EN_CLOSE_MAIL_FORMAL), EN_FILL, rng)}"
        )
    elif register == "informal":
        text = (
            f"{_fill(rng.choice(EN_OPEN_MAIL_INFORMAL), EN_FILL, rng)} {body}. "
            f"{_fill(rng.choice(EN_CLOSE_MAIL_INFORMAL), EN_FILL, rng)}"
        )
    else:
        text = body
    if rng.random() < 0.15:
        text = _typo(text, rng)
    return text.strip()


def fa_message(core: str, rng: random.Random, category: str = "", finglish: bool = False) -> str:
    if finglish:
        body = _fill(core, EN_FILL if "{service}" in core else FA_FILL, rng)
        return body + rng.choice(["", " merci", " mamnoon", "?"])
    body = _fill(core, FA_FILL, rng)
    spam = category == "spam"
    if rng.random() < 0.25:
        neutral = rng.choice(FA_NEUTRAL)
        body = f"{neutral} {body}" if rng.random() < 0.5 else f"{body}. {neutral}"
    register = rng.choices(["voice", "sms", "formal", "informal", "bare"], [3, 3, 2, 2, 1])[0]
    if register == "voice":
        body = _disfluent(body, FA_FILLERS, rng, "،")
        opening, closing = (
            (FA_SPAM_OPEN_VOICE, FA_SPAM_CLOSE_VOICE) if spam else (FA_OPEN_VOICE, FA_CLOSE_VOICE)
        )
        text = f"{_fill(rng.choice(opening), FA_FILL, rng)}… {body}. "
        text += _fill(rng.choice(closing), FA_FILL, rng)
    elif register == "sms":
        text = body + rng.choice(["", "", "؟", "!", " مرسی", " ممنون", " لطفاً"])
    elif spam and register in ("formal", "informal"):
        text = f"{rng.choice(FA_SPAM_OPEN_MAIL)}\n{body}!\n{rng.choice(FA_SPAM_CLOSE_MAIL)}"
    elif register == "formal":
        text = (
            f"{_fill(rng.choice(FA_OPEN_MAIL_FORMAL), FA_FILL, rng)}\n{body}.\n"
            f"{_fill(rng.choice(FA_CLOSE_MAIL_FORMAL), FA_FILL, rng)}"
        )
    elif register == "informal":
        text = (
            f"{_fill(rng.choice(FA_OPEN_MAIL_INFORMAL), FA_FILL, rng)} {body} "
            f"{_fill(rng.choice(FA_CLOSE_MAIL_INFORMAL), FA_FILL, rng)}"
        )
    else:
        text = body
    if rng.random() < 0.2:  # Persian with English words
        for fa, en in FA_MIX.items():
            if fa in text and rng.random() < 0.7:  # whole words only: not «ممنونم», «پیش‌فاکتور»
                text = re.sub(rf"(?<![\w\u200c]){fa}(?![\w\u200c])", en, text)
    for a, b in FA_VARIANTS:  # Arabic letters, missing or spaced ZWNJ, as keyboards produce
        if rng.random() < 0.12:
            text = text.replace(a, b)
    if rng.random() < 0.1:
        text = _typo(text, rng)
    return text.strip()


# ----------------------------------------------------------------------------- corpora


def _clinc(corpus: Path, split: str) -> Iterator[tuple[str, str, str]]:
    data = json.loads((corpus / "intents/clinc150/data_full.json").read_text())
    wanted = {i: c for c, intents in CLINC.items() for i in intents}
    for text, intent in data[split]:
        if intent in wanted:
            yield text, wanted[intent], f"clinc150:{intent}"


def _snips(corpus: Path) -> Iterator[tuple[str, str, str]]:
    for category, intents in SNIPS.items():
        for intent in intents:
            path = corpus / f"intents/snips_2017/validate_{intent}.json"
            raw = json.loads(path.read_text(encoding="latin-1"))
            for utterance in raw[intent]:
                text = "".join(part["text"] for part in utterance["data"]).strip()
                yield text, category, f"snips2017:{intent}"


def _massive(corpus: Path, locale: str, splits: set[str]) -> Iterator[tuple[str, str, str]]:
    path = corpus / f"persian/massive_fa_IR/massive_{locale}_intents.tsv"
    wanted = {i: c for c, intents in MASSIVE.items() for i in intents}
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            category = wanted.get(row["intent"])
            if row["split"] in splits and category and MASSIVE_FILTER[category].search(row["text"]):
                yield row["text"].strip(), category, f"massive-{locale}:{row['intent']}"


def _capped(
    rows: Iterator[tuple[str, str, str]], cap: int, rng: random.Random
) -> dict[str, list[tuple[str, str]]]:
    by_category: dict[str, list[tuple[str, str]]] = {}
    seen: set[str] = set()
    for text, category, source in rows:
        if text.lower() not in seen:
            seen.add(text.lower())
            by_category.setdefault(category, []).append((text, source))
    for category, items in by_category.items():
        rng.shuffle(items)
        by_category[category] = items[:cap]
    return by_category


# ----------------------------------------------------------------------------- assembly

Row = dict[str, str]


_FOLD = str.maketrans({"ي": "ی", "ك": "ک", "\u200c": None})


def _key(text: str) -> str:
    """What makes two texts the same to the model: words, case, letter forms and numbers aside."""
    return " ".join(re.findall(r"\w+", re.sub(r"\d+", "0", text.casefold().translate(_FOLD))))


def _generate(
    language: str, category: str, n: int, rng: random.Random, heldout: bool, seen: set[str]
) -> list[Row]:
    cores = (EN_CORE if language == "en" else FA_CORE)[category]
    pool = [c for i, c in enumerate(cores) if (i % HELDOUT_EVERY == HELDOUT_EVERY - 1) == heldout]
    if heldout:  # held-out also gets unseen wordings of the shared cores, not only new cores
        pool = pool + [c for i, c in enumerate(cores) if i % HELDOUT_EVERY == 0]
    finglish = FINGLISH_CORE[category]
    fpool = [finglish[-1]] if heldout else finglish[:-1]
    make: Callable[[str, random.Random, str], str] = en_message if language == "en" else fa_message
    rows: list[Row] = []
    attempts = 0
    while len(rows) < n and attempts < n * 50:
        attempts += 1
        if language == "fa" and rng.random() < 0.06:
            text, source = fa_message(rng.choice(fpool), rng, finglish=True), "generated:finglish"
        else:
            text, source = make(rng.choice(pool), rng, category), "generated"
        key = _key(text)
        if key in seen:
            continue
        seen.add(key)
        rows.append({"text": text, "category": category, "language": language, "source": source})
    return rows


def build(corpus: Path) -> dict[str, list[Row]]:
    corpus_rng = random.Random(TRAIN_SEED)
    corpus_train = {
        "en": _capped(
            _chain(
                _clinc(corpus, "train"), _snips(corpus), _massive(corpus, "en-US", {"train", "dev"})
            ),
            CORPUS_TRAIN_CAP,
            corpus_rng,
        ),
        "fa": _capped(_massive(corpus, "fa-IR", {"train", "dev"}), CORPUS_TRAIN_CAP, corpus_rng),
    }
    corpus_heldout = {
        "en": _capped(
            _chain(_clinc(corpus, "test"), _massive(corpus, "en-US", {"test"})),
            CORPUS_HELDOUT_CAP,
            corpus_rng,
        ),
        "fa": _capped(_massive(corpus, "fa-IR", {"test"}), CORPUS_HELDOUT_CAP, corpus_rng),
    }
    out: dict[str, list[Row]] = {}
    for language in ("en", "fa"):
        seen: set[str] = set()
        train: list[Row] = []
        train_rng = random.Random(f"{TRAIN_SEED}-{language}")
        for category in CATEGORIES:
            taken = corpus_train[language].get(category, [])
            for text, source in taken:
                seen.add(_key(text))
                train.append(
                    {"text": text, "category": category, "language": language, "source": source}
                )
            train += _generate(
                language, category, TRAIN_PER_CATEGORY - len(taken), train_rng, False, seen
            )
        heldout: list[Row] = []
        heldout_rng = random.Random(f"{HELDOUT_SEED}-{language}")
        for category in CATEGORIES:
            taken = [
                (t, s) for t, s in corpus_heldout[language].get(category, []) if _key(t) not in seen
            ]
            for text, source in taken:
                seen.add(_key(text))
                heldout.append(
                    {"text": text, "category": category, "language": language, "source": source}
                )
            heldout += _generate(
                language, category, HELDOUT_PER_CATEGORY - len(taken), heldout_rng, True, seen
            )
        out[f"train_{language}.jsonl"] = train
        out[f"heldout_{language}.jsonl"] = heldout
    return out


def _chain(*iterators: Iterator[tuple[str, str, str]]) -> Iterator[tuple[str, str, str]]:
    for iterator in iterators:
        yield from iterator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in build(args.corpus).items():
        with (args.out / name).open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        counts = Counter(r["category"] for r in rows)
        sources = Counter(r["source"].split(":")[0] for r in rows)
        print(name, len(rows), dict(sorted(counts.items())), dict(sources))


if __name__ == "__main__":
    main()
